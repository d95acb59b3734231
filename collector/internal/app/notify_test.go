package app

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/notify"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

// notifyEnv returns an Env on a fresh SQLite store with one open deviation.
func notifyEnv(t *testing.T, n config.Notify) (*Env, *sqlstore.DB, string) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "sonevakt.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	res, err := db.RecordFindings(t.Context(), []model.NewDeviation{{Finding: model.Finding{Rule: "unknown-media",
		Subject: "media:1", Title: "Unknown medium", Severity: model.SeverityMedium, Refs: []string{"S1.3"}, At: at},
		Assignees: []string{"role:sikkerhet"}}}, model.Judged{}, at)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Notify = n
	return &Env{Cfg: cfg, Log: slog.New(slog.DiscardHandler), Store: db}, db, res[0].ID
}

func secretFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.key")
	if err := os.WriteFile(p, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewNotifier(t *testing.T) {
	env, _, _ := notifyEnv(t, config.Notify{})
	if n, err := env.newNotifier(); n != nil || err != nil {
		t.Errorf("newNotifier() without mail or webhooks = %v, %v; want nil, nil", n, err)
	}
	env, _, _ = notifyEnv(t, config.Notify{Webhooks: []config.Webhook{{URL: "https://h.example/s", SecretFile: secretFile(t)}}})
	n, err := env.newNotifier()
	if err != nil || n == nil {
		t.Fatalf("newNotifier() with a webhook = %v, %v", n, err)
	}
	if _, ok := n.disp.Senders[model.ChannelWebhook].(notify.WebhookRouter); !ok || n.disp.Senders[model.ChannelEmail] != nil {
		t.Errorf("senders = %v, want a webhook router and no e-mail", n.disp.Senders)
	}
	env, _, _ = notifyEnv(t, config.Notify{Webhooks: []config.Webhook{{URL: "https://h.example/s", SecretFile: filepath.Join(t.TempDir(), "none")}}})
	if _, err := env.newNotifier(); err == nil || !strings.Contains(err.Error(), "notify.webhooks[0]") {
		t.Errorf("newNotifier() with a missing secret = %v, want an error naming the webhook", err)
	}
}

func TestNotifierMessages(t *testing.T) {
	key := secretFile(t)
	env, db, id := notifyEnv(t, config.Notify{
		SMTP:            config.SMTP{Addr: "mail.example:587", From: "s@k.example"},
		SecurityOfficer: config.Recipient{Email: "isa@k.example", Lang: "en"},
		UIURL:           "https://sonevakt.example:8443",
		Webhooks: []config.Webhook{
			{URL: "https://a.example/s?token=x", SecretFile: key, Events: []string{notify.EventDeviationCreated}, Lang: "en"},
			{URL: "https://b.example/s", SecretFile: key},
			{URL: "https://c.example/s", SecretFile: key, Events: []string{"deviation.closed"}},
		},
	})
	d, _, err := db.GetDeviation(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := &notifier{env: env, outbox: db.Outbox()}
	msgs := n.messages(d, env.Cfg.Notify)
	if len(msgs) != 3 {
		t.Fatalf("messages = %+v, want the mail and two webhooks", msgs)
	}
	want := []struct{ channel, to, lang string }{
		{model.ChannelEmail, "isa@k.example", "en"},
		{model.ChannelWebhook, "https://a.example/s?token=x", "en"},
		{model.ChannelWebhook, "https://b.example/s", "nb"},
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m.Channel != want[i].channel || m.To != want[i].to || deviationOf(m.ID) != id {
			t.Errorf("message %d = %s %s (id %s), want %s %s about %s", i, m.Channel, m.To, m.ID, want[i].channel, want[i].to, id)
		}
		ids[m.ID] = true
		if m.Channel != model.ChannelWebhook {
			continue
		}
		var body notify.WebhookDeviation
		if err := json.Unmarshal(m.JSON, &body); err != nil {
			t.Fatalf("webhook body %s: %v", m.JSON, err)
		}
		if body.ID != id || body.Event != notify.EventDeviationCreated || body.Lang != want[i].lang ||
			body.Link != "https://sonevakt.example:8443/deviations/"+id || strings.Contains(m.ID, "token") {
			t.Errorf("webhook %d: id %s, body %+v", i, m.ID, body)
		}
	}
	if len(ids) != 3 {
		t.Errorf("message ids %v are not distinct", ids)
	}
	if again := n.messages(d, env.Cfg.Notify); again[1].ID != msgs[1].ID {
		t.Errorf("webhook id changed between calls: %s, %s", msgs[1].ID, again[1].ID)
	}
}

func TestDeviationOf(t *testing.T) {
	for id, want := range map[string]string{
		"AVVIK-2026-3/created/mail:ola@x": "AVVIK-2026-3",
		"AVVIK-2026-3/created/webhook:ab": "AVVIK-2026-3",
		"test/1":                          "",
		"AVVIK-2026-3":                    "",
	} {
		if got := deviationOf(id); got != want {
			t.Errorf("deviationOf(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestNotifierNotesOutcome: delivered and given-up notifications land on the
// deviation's timeline, the webhook without its query.
func TestNotifierNotesOutcome(t *testing.T) {
	env, db, id := notifyEnv(t, config.Notify{})
	n := &notifier{env: env, outbox: db.Outbox()}
	at := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	n.done(t.Context(), notify.Pending{OutboxMessage: model.OutboxMessage{ID: mailID(id, "isa@k.example"),
		Channel: model.ChannelEmail, To: "isa@k.example"}, Attempts: 2, DeliveredAt: at})
	n.done(t.Context(), notify.Pending{OutboxMessage: model.OutboxMessage{ID: webhookID(id, "https://h.example/s?token=x"),
		Channel: model.ChannelWebhook, To: "https://h.example/s?token=x"}, Attempts: 20, Failed: true, LastError: "post webhook: 503"})
	n.done(t.Context(), notify.Pending{OutboxMessage: model.OutboxMessage{ID: "test/1", Channel: model.ChannelEmail, To: "x@k.example"},
		DeliveredAt: at})
	_, tl, err := db.GetDeviation(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tl {
		if e.Type == model.TimelineNotification {
			got = append(got, e.Text)
		}
	}
	want := []string{"E-mail to isa@k.example delivered", "Webhook to https://h.example/s given up after 20 attempts: post webhook: 503"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline notifications = %q, want %q", got, want)
	}
}
