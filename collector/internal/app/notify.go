package app

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/notify"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

// notifier tells people and systems of new deviations through the durable
// outbox: the engine only enqueues (one short transaction), the dispatcher
// delivers with retries in its own goroutine, so ingest and rules never wait
// for a mail server or a webhook receiver. Each delivery, or its giving up,
// is noted on the deviation's timeline.
type notifier struct {
	env    *Env
	outbox *sqlstore.Outbox
	disp   *notify.Dispatcher
}

// newNotifier returns nil when neither a mail server nor a webhook is
// configured.
func (e *Env) newNotifier() (*notifier, error) {
	n := e.Cfg.Notify
	if n.SMTP.Addr == "" && len(n.Webhooks) == 0 {
		return nil, nil
	}
	db, ok := e.Store.(*sqlstore.DB)
	if !ok {
		return nil, fmt.Errorf("notify: the %T store keeps no notification outbox", e.Store)
	}
	senders := map[string]notify.Sender{}
	if n.SMTP.Addr != "" {
		s, err := newSMTPSender(n.SMTP)
		if err != nil {
			return nil, err
		}
		senders[model.ChannelEmail] = s
	}
	if len(n.Webhooks) > 0 {
		router := notify.WebhookRouter{}
		for i, w := range n.Webhooks {
			s, err := newWebhookSender(w)
			if err != nil {
				return nil, fmt.Errorf("notify.webhooks[%d]: %w", i, err)
			}
			router[w.URL] = s
		}
		senders[model.ChannelWebhook] = router
	}
	nt := &notifier{env: e, outbox: db.Outbox()}
	nt.disp = &notify.Dispatcher{Outbox: nt.outbox, Senders: senders, Logger: e.Log.With("part", "notify"), Done: nt.done}
	return nt, nil
}

func newSMTPSender(c config.SMTP) (*notify.SMTPSender, error) {
	cfg := notify.SMTPConfig{Addr: c.Addr, From: c.From, Username: c.Username, AllowNoTLS: c.AllowNoTLS}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.password_file: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	pool, err := loadCAs(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
	}
	cfg.RootCAs = pool
	s, err := notify.NewSMTPSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("notify.smtp: %w", err)
	}
	return s, nil
}

func newWebhookSender(w config.Webhook) (*notify.WebhookSender, error) {
	secret, err := w.Secret()
	if err != nil {
		return nil, err
	}
	pool, err := loadCAs(w.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	return notify.NewWebhookSender(notify.WebhookConfig{Secret: secret, RootCAs: pool, AllowHTTP: w.LoopbackHTTP()})
}

// loadCAs reads a PEM file of CAs; nil (the system's) for no file.
func loadCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// Message ids are "<deviation id>/created/<channel>:<recipient>", so that a
// repeat is ignored and the timeline note finds its deviation after a restart.
func mailID(dev, addr string) string { return dev + "/created/mail:" + addr }

func webhookID(dev, url string) string {
	sum := sha256.Sum256([]byte(url))
	return dev + "/created/webhook:" + hex.EncodeToString(sum[:6])
}

// deviationOf returns the deviation a message id is about; "" for none.
func deviationOf(id string) string {
	dev, _, ok := strings.Cut(id, "/")
	if !ok || !strings.HasPrefix(dev, "AVVIK-") {
		return ""
	}
	return dev
}

// deviationsChanged enqueues, for every deviation just created, a mail to the
// information security officer and to the line manager of its unit (by the
// organisation register; the configured officer when it names none) and a
// POST to every webhook that wants the event. The message ids make a repeat harmless.
func (n *notifier) deviationsChanged(ctx context.Context, res []model.RecordResult) {
	cfg := n.env.Cfg.Notify
	var msgs []model.OutboxMessage
	for _, r := range res {
		if !r.Created && !r.Escalated {
			continue
		}
		d, _, err := n.env.Store.GetDeviation(ctx, r.ID)
		if err != nil {
			n.env.Log.Error("notify: read deviation", "id", r.ID, "err", err)
			continue
		}
		if r.Escalated {
			msgs = append(msgs, n.overdue(d, cfg)...)
			continue
		}
		msgs = append(msgs, n.messages(d, cfg)...)
	}
	if len(msgs) == 0 {
		return
	}
	if err := n.outbox.Enqueue(ctx, msgs, time.Now()); err != nil {
		n.env.Log.Error("notify: enqueue", "messages", len(msgs), "err", err)
		return
	}
	n.disp.Wake()
}

// messages returns the notifications of a new deviation.
func (n *notifier) messages(d model.Deviation, cfg config.Notify) []model.OutboxMessage {
	var msgs []model.OutboxMessage
	if cfg.SMTP.Addr != "" {
		// The security officer(s) and the line manager of the unit the
		// deviation was routed to, each in their own language.
		for _, rc := range n.env.router().Route(unitOf(d.Assignees)) {
			if rc.Email == "" {
				continue
			}
			subject, body := notify.DeviationCreated(d, rc.Lang, cfg.UIURL, nil)
			msgs = append(msgs, model.OutboxMessage{
				ID: mailID(d.ID, rc.Email), Channel: model.ChannelEmail, To: rc.Email,
				Lang: rc.Lang, Subject: subject, Text: body,
			})
		}
	}
	for _, w := range cfg.Webhooks {
		if !w.Wants(notify.EventDeviationCreated) {
			continue
		}
		body, err := notify.DeviationWebhook(d, w.Lang, cfg.UIURL)
		if err != nil {
			n.env.Log.Error("notify: webhook body", "id", d.ID, "err", err)
			continue
		}
		msgs = append(msgs, model.OutboxMessage{
			ID: webhookID(d.ID, w.URL), Channel: model.ChannelWebhook, To: w.URL, Lang: w.Lang, JSON: body,
		})
	}
	return msgs
}

// overdue returns the e-mails telling the deviation's recipients that its
// breach assessment passed the 72-hour deadline without a decision: the
// officer(s) and the line manager, as for a new deviation, once each.
func (n *notifier) overdue(d model.Deviation, cfg config.Notify) []model.OutboxMessage {
	if cfg.SMTP.Addr == "" {
		return nil
	}
	var msgs []model.OutboxMessage
	for _, rc := range n.env.router().Route(unitOf(d.Assignees)) {
		if rc.Email == "" {
			continue
		}
		subject, body := notify.BreachOverdue(d, rc.Lang, cfg.UIURL, nil)
		msgs = append(msgs, model.OutboxMessage{
			ID: d.ID + "/breach-overdue/mail:" + rc.Email, Channel: model.ChannelEmail, To: rc.Email,
			Lang: rc.Lang, Subject: subject, Text: body,
		})
	}
	return msgs
}

// done notes a delivered or given-up notification on its deviation's
// timeline.
func (n *notifier) done(ctx context.Context, p notify.Pending) {
	dev := deviationOf(p.ID)
	if dev == "" {
		return
	}
	to := p.To
	if p.Channel == model.ChannelWebhook {
		to = notify.RedactURL(p.To)
	}
	at := p.DeliveredAt
	if at.IsZero() {
		at = time.Now()
	}
	note := model.NotificationNote{Deviation: dev, Delivery: p.ID, Channel: p.Channel, To: to,
		Delivered: !p.DeliveredAt.IsZero(), Attempts: p.Attempts, Error: p.LastError, At: at}
	if err := n.outbox.NoteNotification(ctx, note); err != nil {
		n.env.Log.Error("notify: note on the deviation's timeline", "id", p.ID, "err", err)
	}
}
