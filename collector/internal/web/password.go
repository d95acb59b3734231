package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Params are the cost parameters of an argon2id hash.
type argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// defaultArgon2 is what HashPassword uses: 64 MiB, 3 passes, 2 lanes.
var defaultArgon2 = argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Upper bounds for parameters read back from a stored hash, so that a
	// corrupted or planted hash cannot make one login eat the machine.
	argon2MaxMemory  = 1 << 20 // 1 GiB
	argon2MaxTime    = 16
	argon2MaxThreads = 16
)

var (
	b64    = base64.RawStdEncoding // PHC strings
	b64url = base64.RawURLEncoding // tokens and cookies
)

// HashPassword hashes pw with argon2id and a random salt and returns the PHC
// string $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	return hashPassword(pw, defaultArgon2)
}

func hashPassword(pw string, p argon2Params) (string, error) {
	if pw == "" {
		return "", errors.New("hash password: empty password")
	}
	salt := make([]byte, argon2SaltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand crashes the program instead)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the argon2id PHC string hash. The
// comparison is constant-time; an error means the hash itself is unusable.
func CheckPassword(hash, pw string) (bool, error) {
	p, salt, want, err := parseArgon2(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func parseArgon2(hash string) (p argon2Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("check password: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("check password: unsupported argon2 version %q", parts[2])
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return p, nil, nil, fmt.Errorf("check password: parse parameters %q: %w", parts[3], err)
	}
	if p.Memory < 8 || p.Memory > argon2MaxMemory || p.Time < 1 || p.Time > argon2MaxTime ||
		threads < 1 || threads > argon2MaxThreads || p.Memory < 8*threads {
		return p, nil, nil, fmt.Errorf("check password: parameters %q out of range", parts[3])
	}
	p.Threads = uint8(threads)
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("check password: bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("check password: bad key")
	}
	return p, salt, key, nil
}

// passwordAlphabet leaves out characters that are easy to misread (0, o, O, 1, l, I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newPassword returns a random password of n characters from passwordAlphabet.
func newPassword(n int) string {
	const limit = 256 - 256%len(passwordAlphabet) // reject bytes above, so every character is equally likely
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}

// randomToken returns n random bytes in base64url without padding.
func randomToken(n int) string { return randomIntoToken(make([]byte, n)) }

// randomIntoToken fills b with random bytes and returns them in base64url.
func randomIntoToken(b []byte) string {
	_, _ = rand.Read(b)
	return b64url.EncodeToString(b)
}
