package wire

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Token is an enrollment token as operators paste it: it names the token, proves
// possession with a secret, and pins the collector's CA so that the agent trusts
// nothing else.
type Token struct {
	ID     string // 16 hex characters
	Secret string // base64url, 32 random bytes
	Pin    string // base64url SHA-256 of the CA certificate's SubjectPublicKeyInfo
}

const tokenPrefix = "svt1"

// String renders the token as svt1.<id>.<secret>.<pin>.
func (t Token) String() string {
	return tokenPrefix + "." + t.ID + "." + t.Secret + "." + t.Pin
}

// ParseToken parses a token string and says which part is wrong.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 || parts[0] != tokenPrefix {
		return Token{}, fmt.Errorf("token: want svt1.<id>.<secret>.<pin>, got %d dot-separated parts", len(parts))
	}
	t := Token{ID: parts[1], Secret: parts[2], Pin: parts[3]}
	if b, err := hex.DecodeString(t.ID); err != nil || len(b) != 8 {
		return Token{}, fmt.Errorf("token: id %q is not 16 hex characters", t.ID)
	}
	if b, err := base64.RawURLEncoding.DecodeString(t.Secret); err != nil || len(b) != 32 {
		return Token{}, fmt.Errorf("token: secret is not 32 bytes of base64url")
	}
	if b, err := base64.RawURLEncoding.DecodeString(t.Pin); err != nil || len(b) != 32 {
		return Token{}, fmt.Errorf("token: CA pin is not a base64url SHA-256")
	}
	return t, nil
}
