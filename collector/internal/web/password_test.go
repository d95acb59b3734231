package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("korrekt hest batteri stift")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Errorf("HashPassword = %q, want PHC string matching %s", h, phc)
	}
	if ok, err := CheckPassword(h, "korrekt hest batteri stift"); err != nil || !ok {
		t.Errorf("CheckPassword(right) = %v, %v; want true, nil", ok, err)
	}
	for _, wrong := range []string{"korrekt hest batteri stift ", "Korrekt hest batteri stift", ""} {
		if ok, err := CheckPassword(h, wrong); err != nil || ok {
			t.Errorf("CheckPassword(%q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := hashPassword("same", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hashPassword("same", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%q): salt is not random", a)
	}
	if _, err := hashPassword("", testArgon2); err == nil {
		t.Errorf("hashPassword(\"\") succeeded, want an error")
	}
}

func TestCheckPasswordRejectsBadHashes(t *testing.T) {
	good, err := hashPassword("pw", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for _, h := range []string{
		"",
		"plaintext",
		with(1, "argon2i"),
		with(2, "v=16"),
		with(3, "m=64,t=1"),
		with(3, "m=4294967295,t=1,p=1"), // more memory than we allow
		with(3, "m=64,t=1000,p=1"),
		with(4, "!!!"),
		with(5, "c2hvcnQ"),
		good + "$extra",
	} {
		if ok, err := CheckPassword(h, "pw"); err == nil || ok {
			t.Errorf("CheckPassword(%q) = %v, %v; want false and an error", h, ok, err)
		}
	}
	if ok, err := CheckPassword(good, "pw"); err != nil || !ok {
		t.Errorf("CheckPassword(good) = %v, %v; want true, nil", ok, err)
	}
}

func TestNewPassword(t *testing.T) {
	seen := make(map[string]bool)
	for range 50 {
		p := newPassword(20)
		if len(p) != 20 {
			t.Fatalf("newPassword(20) = %q, %d characters", p, len(p))
		}
		for _, c := range p {
			if !strings.ContainsRune(passwordAlphabet, c) {
				t.Fatalf("newPassword(20) = %q, has %q outside the alphabet", p, c)
			}
		}
		if seen[p] {
			t.Fatalf("newPassword repeated %q", p)
		}
		seen[p] = true
	}
}
