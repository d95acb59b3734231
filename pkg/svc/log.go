package svc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/kardianos/service"
)

// sysLogger is the part of kardianos' service.Logger the adapters use.
type sysLogger interface {
	Error(v ...any) error
	Warning(v ...any) error
	Info(v ...any) error
}

func systemLogger(ctx context.Context) sysLogger {
	lg, _ := ctx.Value(loggerKey{}).(service.Logger)
	if lg == nil {
		return nil
	}
	return lg
}

// Handler returns the slog handler for a Runner started by Run: the Windows
// Event Log when ctx carries it, else a text handler on fallback (stderr,
// which systemd sends to the journal).
func Handler(ctx context.Context, level slog.Leveler, fallback io.Writer) slog.Handler {
	if lg := systemLogger(ctx); lg != nil {
		return newSysHandler(lg, level)
	}
	return slog.NewTextHandler(fallback, &slog.HandlerOptions{Level: level})
}

// sysHandler formats records as text lines (without time: the system log
// stamps them) and writes each as one entry at the matching severity.
type sysHandler struct {
	lg    sysLogger
	inner slog.Handler
	s     *sink
}

type sink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newSysHandler(lg sysLogger, level slog.Leveler) *sysHandler {
	s := &sink{}
	inner := slog.NewTextHandler(&s.buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return &sysHandler{lg: lg, inner: inner, s: s}
}

func (h *sysHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *sysHandler) Handle(ctx context.Context, r slog.Record) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(h.s.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.lg.Error(msg)
	case r.Level >= slog.LevelWarn:
		return h.lg.Warning(msg)
	}
	return h.lg.Info(msg)
}

func (h *sysHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &sysHandler{lg: h.lg, inner: h.inner.WithAttrs(as), s: h.s}
}

func (h *sysHandler) WithGroup(name string) slog.Handler {
	return &sysHandler{lg: h.lg, inner: h.inner.WithGroup(name), s: h.s}
}

// Writer returns an io.Writer for a Runner started by Run that sends each
// line to the Windows Event Log when ctx carries it (severity from a slog
// text "level=" field), else fallback itself.
func Writer(ctx context.Context, fallback io.Writer) io.Writer {
	if lg := systemLogger(ctx); lg != nil {
		return &lineWriter{lg: lg}
	}
	return fallback
}

type lineWriter struct {
	mu  sync.Mutex
	lg  sysLogger
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if line == "" {
			continue
		}
		switch {
		case strings.Contains(line, "level=ERROR"):
			_ = w.lg.Error(line)
		case strings.Contains(line, "level=WARN"):
			_ = w.lg.Warning(line)
		default:
			_ = w.lg.Info(line)
		}
	}
	return len(p), nil
}
