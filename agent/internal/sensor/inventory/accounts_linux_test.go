package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// accountsDay is "today" for the account fixtures: 2026-01-15, day 20468.
var accountsDay = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func TestEtcUsers(t *testing.T) {
	tests := []struct {
		root  string
		count int
		want  []wire.User
	}{
		{"testdata/accounts/debian12", 30, []wire.User{
			{Name: "root", ID: "0", FullName: "root", Home: "/root", Shell: "/bin/bash", System: true, Admin: true},
			{Name: "daemon", ID: "1", FullName: "daemon", Home: "/usr/sbin", Shell: "/usr/sbin/nologin", System: true},
			{Name: "nobody", ID: "65534", FullName: "nobody", Home: "/nonexistent", Shell: "/usr/sbin/nologin", System: true},
			// useradd leaves "!" (no password yet): locked.
			{Name: "cloudsdk", ID: "1000", Home: "/home/cloudsdk", Shell: "/bin/bash", Disabled: true},
			{Name: "postgres", ID: "101", FullName: "PostgreSQL administrator", Home: "/var/lib/postgresql", Shell: "/bin/bash", Disabled: true, System: true},
			{Name: "alice", ID: "1001", FullName: "Alice Martin", Home: "/home/alice", Shell: "/bin/bash", Admin: true},
			{Name: "bob", ID: "1002", FullName: "Bob Keller", Home: "/home/bob", Shell: "/bin/zsh", Disabled: true},
			{Name: "carol", ID: "1003", FullName: "Carol Nguyen", Home: "/home/carol", Shell: "/bin/bash", Disabled: true},
			{Name: "deploy", ID: "1004", Home: "/home/deploy", Shell: "/bin/bash", Admin: true},
			{Name: "svc-backup", ID: "1005", FullName: "backup agent", Home: "/var/lib/svc-backup", Shell: "/usr/sbin/nologin", Disabled: true, System: true},
		}},
		{"testdata/accounts/rhel6", 6, []wire.User{
			{Name: "mysql", ID: "27", FullName: "MySQL Server", Home: "/var/lib/mysql", Shell: "/bin/bash", System: true},
			{Name: "oracle", ID: "499", FullName: "Oracle Software Owner", Home: "/u01/app/oracle", Shell: "/bin/bash", System: true},
			{Name: "jdoe", ID: "500", FullName: "John Doe", Home: "/home/jdoe", Shell: "/bin/bash", Admin: true},
			{Name: "ops", ID: "501", FullName: "Operations", Home: "/home/ops", Shell: "/bin/false", System: true},
		}},
	}
	for _, tt := range tests {
		var w warnings
		users, err := etcUsers(tt.root, accountsDay, w.warn)
		if err != nil || len(w) > 0 {
			t.Errorf("etcUsers(%s) error %v, warnings %q; want none", tt.root, err, w)
		}
		if len(users) != tt.count {
			t.Errorf("etcUsers(%s) = %d users, want %d", tt.root, len(users), tt.count)
		}
		got := byName(users, func(u wire.User) string { return u.Name })
		for _, want := range tt.want {
			if g := got[want.Name]; !reflect.DeepEqual(g, want) {
				t.Errorf("etcUsers(%s)[%s] = %+v, want %+v", tt.root, want.Name, g, want)
			}
		}
	}
}

func TestEtcGroups(t *testing.T) {
	tests := []struct {
		root  string
		count int
		want  []wire.Group
	}{
		{"testdata/accounts/debian12", 58, []wire.Group{
			{Name: "root", ID: "0", Members: []string{"root"}},
			// alice is listed, deploy has sudo as primary group.
			{Name: "sudo", ID: "27", Members: []string{"alice", "deploy"}},
			{Name: "adm", ID: "4"},
			{Name: "ssl-cert", ID: "103", Members: []string{"postgres"}},
			{Name: "nogroup", ID: "65534", Members: []string{"sync", "_apt", "nobody"}},
			// Listed and primary: counted once.
			{Name: "developers", ID: "1100", Members: []string{"alice", "bob"}},
			{Name: "alice", ID: "1001", Members: []string{"alice"}},
		}},
		{"testdata/accounts/rhel6", 7, []wire.Group{
			{Name: "bin", ID: "1", Members: []string{"bin", "daemon"}},
			{Name: "wheel", ID: "10", Members: []string{"jdoe"}},
		}},
	}
	for _, tt := range tests {
		var w warnings
		groups, err := etcGroups(tt.root, w.warn)
		if err != nil || len(w) > 0 {
			t.Errorf("etcGroups(%s) error %v, warnings %q; want none", tt.root, err, w)
		}
		if len(groups) != tt.count {
			t.Errorf("etcGroups(%s) = %d groups, want %d", tt.root, len(groups), tt.count)
		}
		got := byName(groups, func(g wire.Group) string { return g.Name })
		for _, want := range tt.want {
			if g := got[want.Name]; !reflect.DeepEqual(g, want) {
				t.Errorf("etcGroups(%s)[%s] = %+v, want %+v", tt.root, want.Name, g, want)
			}
		}
	}
}

// TestAccountsCorrupt checks that broken lines are reported with their file
// and line and skipped, and that the rest arrives; each section reports its
// own files' problems only.
func TestAccountsCorrupt(t *testing.T) {
	const root = "testdata/accounts/corrupt"
	var w warnings
	users, err := etcUsers(root, accountsDay, w.warn)
	if err != nil {
		t.Fatalf("etcUsers: %v", err)
	}
	wantWarn := []string{
		"/etc/passwd:2: 1 fields, want 7",
		`/etc/passwd:3: user eve: bad uid "abc"`,
		"/etc/passwd:4: empty user name",
		"/etc/passwd:9: 8 fields, want 7",
		`/etc/shadow:2: user frank: bad expiry day "notaday"`,
		"/etc/shadow:3: 2 fields, want 9",
		`/etc/login.defs:2: bad UID_MIN "thousand"`,
	}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("etcUsers(%s) warnings:\n%q\nwant\n%q", root, w, wantWarn)
	}
	wantUsers := []wire.User{
		{Name: "root", ID: "0", FullName: "root", Home: "/root", Shell: "/bin/bash", System: true, Admin: true},
		{Name: "frank", ID: "1002", FullName: "Frank", Home: "/home/frank", Shell: "/bin/bash", Admin: true},
	}
	if !reflect.DeepEqual(users, wantUsers) {
		t.Errorf("etcUsers(%s) = %+v, want %+v", root, users, wantUsers)
	}

	w = nil
	groups, err := etcGroups(root, w.warn)
	if err != nil {
		t.Fatalf("etcGroups: %v", err)
	}
	wantWarn = []string{
		"/etc/group:3: 3 fields, want 4",
		`/etc/group:4: group wheel: bad gid "ten"`,
	}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("etcGroups(%s) warnings:\n%q\nwant\n%q", root, w, wantWarn)
	}
	wantGroups := []wire.Group{
		{Name: "root", ID: "0", Members: []string{"root"}},
		{Name: "sudo", ID: "27", Members: []string{"frank"}},
		{Name: "staff", ID: "50", Members: []string{"frank", "root"}},
	}
	if !reflect.DeepEqual(groups, wantGroups) {
		t.Errorf("etcGroups(%s) = %+v, want %+v", root, groups, wantGroups)
	}
}

func TestAccountDisabled(t *testing.T) {
	const today = 20468
	tests := []struct {
		pw     string
		expire int64
		want   bool
	}{
		{"$y$j9T$x", -1, false},
		{"*", -1, false}, // no password login, keys still work
		{"!", -1, true},
		{"!*", -1, true},
		{"!$y$j9T$x", -1, true}, // passwd -l
		{"", -1, false},
		{"$y$j9T$x", today, false}, // expires at the end of the day
		{"$y$j9T$x", today - 1, true},
		{"$y$j9T$x", 0, true},
		{"$y$j9T$x", today + 30, false},
	}
	for _, tt := range tests {
		if got := accountDisabled(tt.pw, tt.expire, today); got != tt.want {
			t.Errorf("accountDisabled(%q, %d, %d) = %v, want %v", tt.pw, tt.expire, today, got, tt.want)
		}
	}
}

func TestAccountsMissingFiles(t *testing.T) {
	root := t.TempDir()
	var w warnings
	if users, err := etcUsers(root, accountsDay, w.warn); err == nil || users != nil {
		t.Errorf("etcUsers(empty root) = %v, %v; want an error", users, err)
	}
	if groups, err := etcGroups(root, w.warn); err == nil || groups != nil {
		t.Errorf("etcGroups(empty root) = %v, %v; want an error", groups, err)
	}
	// passwd alone: no group file, no shadow, no login.defs.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	users, err := etcUsers(root, accountsDay, w.warn)
	want := []wire.User{
		{Name: "root", ID: "0", Home: "/root", Shell: "/bin/sh", System: true, Admin: true},
		{Name: "ann", ID: "1000", Home: "/home/ann", Shell: "/bin/sh"},
	}
	if err != nil || len(w) > 0 || !reflect.DeepEqual(users, want) {
		t.Errorf("etcUsers(passwd only) = %+v, %v, warnings %q; want %+v", users, err, w, want)
	}
}

// TestAccountsThisMachine reads the accounts of the machine the tests run on.
func TestAccountsThisMachine(t *testing.T) {
	var inv wire.Inventory
	var w warnings
	if err := fillUsers(t.Context(), &inv, w.warn); err != nil {
		t.Fatalf("fillUsers: %v", err)
	}
	if err := fillGroups(t.Context(), &inv, w.warn); err != nil {
		t.Fatalf("fillGroups: %v", err)
	}
	if len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}
	root, ok := byName(inv.Users, func(u wire.User) string { return u.Name })["root"]
	if !ok || root.ID != "0" || !root.Admin {
		t.Errorf("users: root = %+v, %v; want ID 0, admin", root, ok)
	}
	if g, ok := byName(inv.Groups, func(g wire.Group) string { return g.Name })["root"]; !ok || g.ID != "0" {
		t.Errorf("groups: root = %+v, %v; want ID 0", g, ok)
	}
	t.Logf("%d users, %d groups", len(inv.Users), len(inv.Groups))
}
