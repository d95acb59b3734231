package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/notify"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlite"
)

// notifier tells people of new deviations through the durable outbox: the
// engine only enqueues (one short transaction), the dispatcher delivers with
// retries in its own goroutine, so ingest and rules never wait for a mail
// server.
type notifier struct {
	env    *Env
	outbox notify.Outbox
	disp   *notify.Dispatcher
}

// newNotifier returns nil when no mail server is configured.
func (e *Env) newNotifier() (*notifier, error) {
	n := e.Cfg.Notify
	if n.SMTP.Addr == "" {
		return nil, nil
	}
	db, ok := e.Store.(*sqlite.DB)
	if !ok {
		return nil, errors.New("notify: the outbox is kept in the SQLite store only, so far")
	}
	cfg := notify.SMTPConfig{Addr: n.SMTP.Addr, From: n.SMTP.From, Username: n.SMTP.Username, AllowNoTLS: n.SMTP.AllowNoTLS}
	if n.SMTP.PasswordFile != "" {
		b, err := os.ReadFile(n.SMTP.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.password_file: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if n.SMTP.CAFile != "" {
		pem, err := os.ReadFile(n.SMTP.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify.smtp.ca_file %s: no PEM certificate in it", n.SMTP.CAFile)
		}
	}
	sender, err := notify.NewSMTPSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("notify.smtp: %w", err)
	}
	ob := db.Outbox()
	return &notifier{env: e, outbox: ob, disp: &notify.Dispatcher{
		Outbox: ob, Senders: map[string]notify.Sender{model.ChannelEmail: sender},
		Logger: e.Log.With("part", "notify"),
	}}, nil
}

// deviationsChanged enqueues a mail to the information security officer for
// every deviation just created. The message id makes a repeat harmless.
func (n *notifier) deviationsChanged(ctx context.Context, res []model.RecordResult) {
	officer := n.env.Cfg.Notify.SecurityOfficer
	if officer.Email == "" {
		return
	}
	var msgs []model.OutboxMessage
	for _, r := range res {
		if !r.Created {
			continue
		}
		d, _, err := n.env.Store.GetDeviation(ctx, r.ID)
		if err != nil {
			n.env.Log.Error("notify: read new deviation", "id", r.ID, "err", err)
			continue
		}
		subject, body := notify.DeviationCreated(d, officer.Lang, n.env.Cfg.Notify.UIURL, nil)
		msgs = append(msgs, model.OutboxMessage{
			ID: d.ID + "/created/mail:" + officer.Email, Channel: model.ChannelEmail, To: officer.Email,
			Lang: officer.Lang, Subject: subject, Text: body,
		})
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
