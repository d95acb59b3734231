package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.sqlite"),
		filepath.Join(dir, "c.db"),
	} {
		st, err := Open(t.Context(), dsn, nil)
		if err != nil {
			t.Errorf("Open(%q) = %v", dsn, err)
			continue
		}
		if _, err := st.CurrentPolicy(t.Context()); err != nil {
			t.Errorf("Open(%q): CurrentPolicy = %v", dsn, err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("Open(%q): Close = %v", dsn, err)
		}
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Port 1 on loopback: refused at once, no DNS, no waiting.
	_, err := Open(t.Context(), "postgres://sonevakt:hunter2@127.0.0.1:1/sonevakt?connect_timeout=2", nil)
	if err == nil || !strings.Contains(err.Error(), "open postgres store postgres://sonevakt@127.0.0.1:1/sonevakt") {
		t.Fatalf("Open(postgres://…) = %v, want an error naming the server without its password", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	for _, dsn := range []string{"", "sqlite:", "mysql://x/y", "/var/lib/sonevakt/data", "host=db password=hunter2"} {
		_, err := Open(t.Context(), dsn, nil)
		if !errors.Is(err, model.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error %q shows the password", dsn, err)
		}
	}
}
