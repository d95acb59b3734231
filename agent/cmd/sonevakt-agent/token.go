package main

import "strings"

// withoutToken returns a service's arguments without the enrollment token
// (--token X, --token=X, -token X, -token=X): once the agent has enrolled,
// the token has no further use and should not stay readable in the
// service's configuration.
func withoutToken(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "token" {
			if !hasValue {
				i++ // the value is the next argument
			}
			continue
		}
		out = append(out, a)
	}
	return out
}
