package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestOverviewTasks(t *testing.T) {
	e := newEnv(t, false) // the clock: 2 March 2026
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 23, 59, 0, 0, uiZone) }
	e.srv.duties = func(context.Context) []Duty {
		return []Duty{{Kind: "review", Year: 2025, Due: day(time.March, 31)}, {Kind: "audit", Year: 2025, Due: day(time.February, 20)},
			{Kind: "audit", Year: 2026, Due: day(time.December, 31)}}
	}
	e.addUser(t, "siv", "hemmelig-passord", model.RoleSikkerhet)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	body := e.get("/", e.login(t, "siv", "hemmelig-passord")).Body.String()
	for _, want := range []string{`<section id="ov-tasks"`, `<span class="badge badge-warn">om 29 dager</span>`,
		"Ledelsens gjennomgang av 2025 (S11)", "frist 31.03.2026", `<span class="badge badge-bad">10 dager over fristen</span>`,
		`<span class="badge badge-muted">om 304 dager</span>`, "Årlig sikkerhetsrevisjon 2026 (S8)"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if body := e.get("/?lang=en", e.login(t, "siv", "hemmelig-passord")).Body.String(); !strings.Contains(body, "Management review of 2025 (S11)") || !strings.Contains(body, "due 2026-03-31") {
		t.Error("the English overview lacks the review task")
	}
	if body := e.get("/", e.login(t, "dag", "hemmelig-passord")).Body.String(); strings.Contains(body, `id="ov-tasks"`) {
		t.Error("drift sees the yearly duties")
	}
}
