package evidence

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Oslo on machines without a zone database (Windows)
)

// Oslo is the municipality's time zone; whole days of a period are its days.
var Oslo = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Oslo"); err == nil {
		return l
	}
	return time.Local
}()

// ParsePeriod reads a period as the CLI takes it: from and to are dates
// (2026-01-31, whole days in Europe/Oslo, to included) or RFC 3339 times
// (to excluded). It returns [from, to).
func ParsePeriod(from, to string) (time.Time, time.Time, error) {
	f, _, err := parseWhen(from)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %q: %w", from, err)
	}
	t, tDay, err := parseWhen(to)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--to %q: %w", to, err)
	}
	if tDay {
		t = t.AddDate(0, 0, 1)
	}
	if !f.Before(t) {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %s is not before --to %s", from, to)
	}
	return f, t, nil
}

func parseWhen(s string) (t time.Time, day bool, err error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, Oslo); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("want a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00+01:00)")
}
