package inventory

import "fmt"

// Test helpers shared by the accounts, services and sessions tests, on every
// OS.

// warnings collects what a part reports through warn.
type warnings []string

func (w *warnings) warn(format string, args ...any) { *w = append(*w, fmt.Sprintf(format, args...)) }

// byName indexes items by name.
func byName[T any](items []T, name func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[name(it)] = it
	}
	return m
}
