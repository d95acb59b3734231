package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestVerify(t *testing.T) {
	secret := []byte("delt hemmelighet")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event":"deviation.created","id":"AVVIK-2026-1"}`)
	ts := "1800000000"
	sig := Sign(secret, ts, body)
	tests := []struct {
		name            string
		secret          []byte
		ts, sig         string
		body            []byte
		now             time.Time
		wantErr         error
		wantErrContains string
	}{
		{"ok", secret, ts, sig, body, now, nil, ""},
		{"ok within tolerance", secret, ts, sig, body, now.Add(4 * time.Minute), nil, ""},
		{"ok clock behind", secret, ts, sig, body, now.Add(-4 * time.Minute), nil, ""},
		{"stale", secret, ts, sig, body, now.Add(6 * time.Minute), ErrStale, "6m0s away"},
		{"timestamp not a number", secret, "yesterday", sig, body, now, ErrStale, `"yesterday"`},
		{"body changed", secret, ts, sig, []byte(`{"event":"deviation.created","id":"AVVIK-2026-2"}`), now, ErrBadSignature, ""},
		{"timestamp changed", secret, "1800000001", sig, body, now, ErrBadSignature, ""},
		{"other secret", []byte("en annen hemmelighet"), ts, sig, body, now, ErrBadSignature, ""},
		{"no prefix", secret, ts, strings.TrimPrefix(sig, "sha256="), body, now, ErrBadSignature, ""},
		{"empty", secret, ts, "", body, now, ErrBadSignature, ""},
		{"upper case hex", secret, ts, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), body, now, ErrBadSignature, ""},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.ts, tt.sig, tt.body, tt.now, 5*time.Minute)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErrContains != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrContains)) {
			t.Errorf("%s: Verify = %v, want it to say %q", tt.name, err, tt.wantErrContains)
		}
	}
}

// recordingSender remembers what it was asked to send.
type recordingSender struct {
	name string
	got  *[]string
}

func (s recordingSender) Send(_ context.Context, m Message) error {
	*s.got = append(*s.got, s.name+" "+m.ID)
	return nil
}

func TestWebhookRouter(t *testing.T) {
	var got []string
	r := WebhookRouter{
		"https://a.example/hook":   recordingSender{"a", &got},
		"https://b.example/hook?x": recordingSender{"b", &got},
	}
	for _, m := range []Message{{ID: "1", To: "https://a.example/hook"}, {ID: "2", To: "https://b.example/hook?x"}} {
		if err := r.Send(t.Context(), m); err != nil {
			t.Errorf("Send(%s) = %v", m.To, err)
		}
	}
	if want := "a 1,b 2"; strings.Join(got, ",") != want {
		t.Errorf("senders got %q, want %q", strings.Join(got, ","), want)
	}
	err := r.Send(t.Context(), Message{ID: "3", To: "https://gone.example/hook?token=hemmelig"})
	if !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), "hemmelig") {
		t.Errorf("Send(unconfigured URL) = %v, want a permanent error without the query", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example/s":                    "https://hooks.example/s",
		"https://u:p@hooks.example:8443/s?token=x#f": "https://hooks.example:8443/s",
		"::not a url": "(invalid URL)",
		"/relative":   "(invalid URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeviationWebhook(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	d := model.Deviation{ID: "AVVIK-2026-7", Rule: "unmarked-media", Subject: "media:0781:5583:AA", AgentID: "ag1",
		Title: "Unmarked medium", Severity: model.SeverityHigh, Refs: []string{"S1.3", "S6.1"}, Status: model.StatusNew,
		Assignees: []string{"role:sikkerhet"}, CreatedAt: at, DueAt: at.Add(24 * time.Hour),
		PersonalData: true, BreachDue: at.Add(72 * time.Hour)}
	b, err := DeviationWebhook(d, "en", "https://sonevakt.example:8443/")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, b)
	}
	want := map[string]any{
		"event": "deviation.created", "id": "AVVIK-2026-7", "rule": "unmarked-media", "subject": "media:0781:5583:AA",
		"agent_id": "ag1", "severity": "high", "title": "Unmarked medium", "refs": []any{"S1.3", "S6.1"}, "status": "ny",
		"assignees": []any{"role:sikkerhet"}, "created_at": "2026-11-26T09:00:00Z", "due_at": "2026-11-27T09:00:00Z",
		"personal_data": true, "breach_due": "2026-11-29T09:00:00Z", "link": "https://sonevakt.example:8443/deviations/AVVIK-2026-7",
		"lang": "en", "summary": "[Sonevakt] New deviation AVVIK-2026-7: Unmarked medium",
	}
	for k, v := range want {
		if g, _ := json.Marshal(got[k]); string(g) != string(must(json.Marshal(v))) {
			t.Errorf("body[%q] = %s, want %v", k, g, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("body has %d fields, want %d: %s", len(got), len(want), b)
	}

	// Without personal data, a due date or a UI address those fields are
	// left out, lists are empty rather than null, and the language falls back to nb.
	b, err = DeviationWebhook(model.Deviation{ID: "AVVIK-2026-8", Title: "Unknown medium", Severity: model.SeverityMedium}, "de", "")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, absent := range []string{"breach_due", "due_at", "link", "null"} {
		if strings.Contains(s, absent) {
			t.Errorf("body has %q: %s", absent, s)
		}
	}
	for _, present := range []string{`"refs":[]`, `"assignees":[]`, `"lang":"nb"`, `Nytt avvik AVVIK-2026-8`} {
		if !strings.Contains(s, present) {
			t.Errorf("body lacks %q: %s", present, s)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
