package model

import (
	"context"
	"strings"
	"time"
)

// Asset types an asset register knows.
const (
	AssetPC      = "pc"
	AssetLaptop  = "laptop"
	AssetServer  = "server"
	AssetPrinter = "printer"
	AssetSwitch  = "switch"
	AssetPhone   = "phone"
	AssetOther   = "other"
)

// AssetTypes lists the asset types, in the order forms show them.
var AssetTypes = []string{AssetPC, AssetLaptop, AssetServer, AssetPrinter, AssetSwitch, AssetPhone, AssetOther}

// Asset statuses. A retired asset stays in the register so that its history
// and its MACs still name it.
const (
	AssetActive  = "active"
	AssetRetired = "retired"
)

// Asset is one authorised device in the asset register (S1.3): what it is,
// how it is recognised on the wire and by an agent (serial, MACs, hostname),
// who owns and runs it, and where it stands.
type Asset struct {
	Tag         string   // the asset tag; the register's key
	Type        string   // one of AssetTypes
	Serial      string   // the hardware serial number; "" when unknown
	MACs        []string // lower-case aa:bb:cc:dd:ee:ff, each belonging to this asset only
	Hostname    string
	OwnerUnit   string // organisational unit that owns the asset
	Responsible string // the person answerable for it
	OperatedBy  string // the municipality or a supplier's name
	Building    string
	Room        string
	Zone        string // the network zone it belongs in
	Status      string // AssetActive or AssetRetired
	Note        string
	UpdatedAt   time.Time
	UpdatedBy   string
}

// AssetStore keeps the asset register.
type AssetStore interface {
	// Assets returns the register sorted by tag (byte order), each asset's
	// MACs sorted.
	Assets(ctx context.Context) ([]Asset, error)
	// ImportAssets writes assets in one transaction: with replace, the
	// register becomes exactly assets; without, assets are added or updated
	// by tag and the rest stay. Every asset added, updated or removed lands in
	// the audit log with actor, before and after. ErrConflict when assets
	// repeat a tag, or a MAC belongs to two assets; ErrInvalid for an asset
	// without a tag or with a malformed MAC. Either way nothing is written.
	ImportAssets(ctx context.Context, assets []Asset, replace bool, actor string, at time.Time) (RegisterChange, error)
	// DeleteAsset removes one asset (audited); ErrNotFound if absent.
	DeleteAsset(ctx context.Context, tag, actor string, at time.Time) error
}

// NormalizeMAC returns a 48-bit MAC address as lower-case aa:bb:cc:dd:ee:ff.
// It accepts colons, hyphens (as Windows writes), Cisco's dotted form
// (aabb.ccdd.eeff) and twelve bare hex digits, in either case; ok is false
// for anything else.
func NormalizeMAC(s string) (mac string, ok bool) {
	var hex []byte
	switch len(s) {
	case 17: // aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", false
		}
		for i := 0; i < len(s); i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return "", false
				}
				continue
			}
			hex = append(hex, s[i])
		}
	case 14: // aabb.ccdd.eeff
		for i := 0; i < len(s); i++ {
			if i%5 == 4 {
				if s[i] != '.' {
					return "", false
				}
				continue
			}
			hex = append(hex, s[i])
		}
	case 12:
		hex = []byte(s)
	default:
		return "", false
	}
	var b strings.Builder
	b.Grow(17)
	for i, c := range hex {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", false
		}
		if i > 0 && i%2 == 0 {
			b.WriteByte(':')
		}
		b.WriteByte(c)
	}
	return b.String(), true
}
