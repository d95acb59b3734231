package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Outbox is the durable notification outbox in the store's file. Its method
// set satisfies notify.Outbox (the store does not import notify; the types
// live in model).
type Outbox struct{ db *DB }

// Outbox returns the store's notification outbox.
func (db *DB) Outbox() *Outbox { return &Outbox{db: db} }

// Enqueue adds messages to the outbox, due at now, in one transaction.
// A message whose id is already in the outbox (in any state) is ignored.
func (o *Outbox) Enqueue(ctx context.Context, msgs []model.OutboxMessage, now time.Time) error {
	for _, m := range msgs {
		if m.ID == "" || m.Channel == "" || m.To == "" {
			return fmt.Errorf("enqueue notification %q: id, channel and recipient are required: %w", m.ID, model.ErrInvalid)
		}
	}
	err := o.db.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO notify_outbox
			(id, channel, recipient, lang, subject, text, json, created_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range msgs {
			if _, err := st.ExecContext(ctx, m.ID, m.Channel, m.To, m.Lang, m.Subject, m.Text, blob(m.JSON), nanos(now), nanos(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue notifications: %w", err)
	}
	return nil
}

const outboxColumns = `id, channel, recipient, lang, subject, text, json, created_at, next_at, attempts, last_error, delivered_at, failed`

func scanOutbox(sc interface{ Scan(...any) error }) (model.OutboxPending, error) {
	var p model.OutboxPending
	var created, next, delivered int64
	err := sc.Scan(&p.ID, &p.Channel, &p.To, &p.Lang, &p.Subject, &p.Text, &p.JSON, &created, &next, &p.Attempts, &p.LastError, &delivered, &p.Failed)
	p.CreatedAt, p.NextAt, p.DeliveredAt = fromNanos(created), fromNanos(next), fromNanos(delivered)
	if len(p.JSON) == 0 {
		p.JSON = nil
	}
	return p, err
}

// Due returns up to limit undelivered, not given-up messages due at
// now, the longest-due first, and leases them: they are not due again until
// now + model.OutboxLease unless Delivered or Failed is called first. A
// dispatcher that dies mid-send thus has its messages retried after the
// lease, and two dispatchers on one store do not send the same message at once.
func (o *Outbox) Due(ctx context.Context, now time.Time, limit int) ([]model.OutboxPending, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []model.OutboxPending
	err := o.db.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+outboxColumns+` FROM notify_outbox
			WHERE delivered_at = 0 AND failed = 0 AND next_at <= ?
			ORDER BY next_at, id LIMIT ?`, nanos(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanOutbox(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		lease := nanos(now.Add(model.OutboxLease))
		for _, p := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE notify_outbox SET next_at = ? WHERE id = ?`, lease, p.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read due notifications: %w", err)
	}
	return out, nil
}

// Delivered records a successful attempt. Marking a message delivered
// twice keeps the first time.
func (o *Outbox) Delivered(ctx context.Context, id string, now time.Time) error {
	err := o.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notify_outbox
			SET delivered_at = ?, attempts = attempts + 1, last_error = '', failed = 0
			WHERE id = ? AND delivered_at = 0`, nanos(now), id)
		return outboxTouched(ctx, tx, res, err, id)
	})
	if err != nil {
		return fmt.Errorf("mark notification %s delivered: %w", id, err)
	}
	return nil
}

// Failed records a failed attempt: the error, the time of the next
// attempt, and whether delivery is given up. A delivered message is left alone.
func (o *Outbox) Failed(ctx context.Context, id, errText string, next time.Time, permanent bool) error {
	err := o.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notify_outbox
			SET attempts = attempts + 1, last_error = ?, next_at = ?, failed = ?
			WHERE id = ? AND delivered_at = 0`, errText, nanos(next), permanent, id)
		return outboxTouched(ctx, tx, res, err, id)
	})
	if err != nil {
		return fmt.Errorf("mark notification %s failed: %w", id, err)
	}
	return nil
}

// outboxTouched turns an update that matched no row into ErrNotFound when
// the id is unknown, and into success when the message was delivered already.
func outboxTouched(ctx context.Context, tx *sql.Tx, res sql.Result, err error, id string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM notify_outbox WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return model.ErrNotFound
	}
	return err
}

// Entry returns one outbox message with its delivery state.
func (o *Outbox) Entry(ctx context.Context, id string) (model.OutboxPending, error) {
	p, err := scanOutbox(o.db.r.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM notify_outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("notification %s: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read notification %s: %w", id, err)
	}
	return p, nil
}

// auditDeviationNotification is the audit action of a notification noted on
// a deviation's timeline.
const auditDeviationNotification = "deviation.notification"

// NoteNotification appends a "notification" entry to a deviation's timeline,
// with an audit entry, saying who was told by which channel and when, or that
// it was given up and why. A note repeating one already made for the same
// delivery and outcome is ignored, so a dispatcher may repeat it.
// ErrNotFound for an unknown deviation.
func (o *Outbox) NoteNotification(ctx context.Context, n model.NotificationNote) error {
	if n.Deviation == "" || n.Delivery == "" || n.Channel == "" {
		return fmt.Errorf("note notification %q: deviation, delivery and channel are required: %w", n.Delivery, model.ErrInvalid)
	}
	what := map[string]string{model.ChannelEmail: "E-mail", model.ChannelWebhook: "Webhook"}[n.Channel]
	if what == "" {
		what = n.Channel
	}
	outcome, text := "delivered", fmt.Sprintf("%s to %s delivered", what, n.To)
	if !n.Delivered {
		outcome = "failed"
		text = fmt.Sprintf("%s to %s given up after %d attempts: %s", what, n.To, n.Attempts, n.Error)
	}
	detail := mustJSON(struct {
		Delivery string `json:"delivery"`
		Channel  string `json:"channel"`
		To       string `json:"to"`
		Outcome  string `json:"outcome"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error,omitempty"`
	}{n.Delivery, n.Channel, n.To, outcome, n.Attempts, n.Error})
	err := o.db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM deviations WHERE id = ?`, n.Deviation).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM deviation_timeline WHERE deviation_id = ? AND type = ?
			AND `+o.db.pick(`json_extract(detail, '$.delivery') = ? AND json_extract(detail, '$.outcome') = ?`,
			`detail::jsonb ->> 'delivery' = ? AND detail::jsonb ->> 'outcome' = ?`),
			n.Deviation, model.TimelineNotification, n.Delivery, outcome).Scan(&one)
		if err == nil {
			return nil // noted already
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := appendTimeline(ctx, tx, n.Deviation, model.TimelineEvent{At: n.At, Actor: actorSystem,
			Type: model.TimelineNotification, Text: text, Detail: detail}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: n.At, Actor: actorSystem, Action: auditDeviationNotification,
			Subject: n.Deviation, Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("note notification %s on deviation %s: %w", n.Delivery, n.Deviation, err)
	}
	return nil
}
