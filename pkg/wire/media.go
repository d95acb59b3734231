package wire

import (
	"fmt"
	"path"
	"strings"
)

// Media event actions.
const (
	MediaPresent = "present" // attached when the sensor started (or rescanned)
	MediaAdd     = "add"     // arrived
	MediaRemove  = "remove"  // left
	MediaMount   = "mount"   // a volume of it was mounted
	MediaUnmount = "unmount" // a volume of it was unmounted
)

// Media classes, as the agent's classifier names them.
const (
	MediaUSBStorage = "usb-storage"
	MediaMemoryCard = "memory-card"
	MediaOptical    = "optical"
	MediaLoop       = "loop" // a loop device, reported only when the agent is told to (tests, benchmarks)
)

// Decisions an agent makes about a medium.
const (
	VerdictAllow = "allow"
	VerdictBlock = "block"
)

// Rules behind a decision; a decision always names one, the default included.
const (
	MediaRuleRegister     = "media.register"      // the medium is in the register pushed with the policy
	MediaRuleAuditDefault = "media.default.audit" // mode audit: everything is allowed and reported
	MediaRuleBlockDefault = "media.default.block" // mode block: what the register lacks is blocked
	MediaRuleClassExempt  = "media.class.exempt"  // the medium's class is not enforced (optical, loop)
)

// Media policy modes.
const (
	MediaModeAudit = "audit" // report only (the default)
	MediaModeBlock = "block" // deauthorise what the register lacks
)

// MediaEvent is the body of a KindMedia record: something happened to one
// removable medium.
type MediaEvent struct {
	Action   string          `cbor:"1,keyasint" json:"action"` // Media… actions
	Device   MediaDevice     `cbor:"2,keyasint" json:"device"`
	Decision *MediaDecision  `cbor:"3,keyasint,omitempty" json:"decision,omitempty"` // on present and add
	Mount    *MediaMountInfo `cbor:"4,keyasint,omitempty" json:"mount,omitempty"`    // on mount and unmount
}

// MediaDevice is one removable medium: its identity and its volumes.
type MediaDevice struct {
	Class     string        `cbor:"1,keyasint" json:"class"` // Media… classes
	Name      string        `cbor:"2,keyasint" json:"name"`  // Linux: sdb, mmcblk0, sr0 (a USB device's sysfs name such as 1-2 until its disk exists); Windows: the device instance id
	Bus       string        `cbor:"3,keyasint,omitempty" json:"bus,omitempty"`
	VID       string        `cbor:"4,keyasint,omitempty" json:"vid,omitempty"` // 4 lower-case hex digits
	PID       string        `cbor:"5,keyasint,omitempty" json:"pid,omitempty"`
	Vendor    string        `cbor:"6,keyasint,omitempty" json:"vendor,omitempty"`
	Product   string        `cbor:"7,keyasint,omitempty" json:"product,omitempty"`
	Serial    string        `cbor:"8,keyasint,omitempty" json:"serial,omitempty"`
	SizeBytes uint64        `cbor:"9,keyasint,omitempty" json:"size_bytes,omitempty"`
	DevPath   string        `cbor:"10,keyasint,omitempty" json:"devpath,omitempty"` // sysfs path, or the Windows device instance id
	Volumes   []MediaVolume `cbor:"11,keyasint,omitempty" json:"volumes,omitempty"`
	// Unknown says what could not be learnt about the device and why.
	Unknown []string `cbor:"12,keyasint,omitempty" json:"unknown,omitempty"`
}

// Key is the medium's identity in the register: "vid:pid:serial", with empty
// parts left empty.
func (d MediaDevice) Key() string { return MediaKey(d.VID, d.PID, d.Serial) }

// MediaKey joins a medium's identity as the register keys it.
func MediaKey(vid, pid, serial string) string {
	return strings.ToLower(vid) + ":" + strings.ToLower(pid) + ":" + serial
}

// MediaVolume is one filesystem (a partition, or the whole medium) and what its
// own bytes say.
type MediaVolume struct {
	Name       string        `cbor:"1,keyasint" json:"name"` // sdb1, or sdb for a whole-disk filesystem
	SizeBytes  uint64        `cbor:"2,keyasint,omitempty" json:"size_bytes,omitempty"`
	FSType     string        `cbor:"3,keyasint,omitempty" json:"fs_type,omitempty"`
	Label      string        `cbor:"4,keyasint,omitempty" json:"label,omitempty"`
	UUID       string        `cbor:"5,keyasint,omitempty" json:"uuid,omitempty"`
	Encrypted  string        `cbor:"6,keyasint" json:"encrypted"` // yes, no, unknown
	Encryption string        `cbor:"7,keyasint,omitempty" json:"encryption,omitempty"`
	Marking    *MediaMarking `cbor:"8,keyasint,omitempty" json:"marking,omitempty"` // nil: no marking found
	Problems   []string      `cbor:"9,keyasint,omitempty" json:"problems,omitempty"`
	MountPoint string        `cbor:"10,keyasint,omitempty" json:"mount_point,omitempty"`
	// MarkingChecked says the agent looked for every marking the policy
	// names (the label pattern, and the marker file when one is set): a nil
	// Marking then means "unmarked", not "not yet known". The marker file is
	// read from the raw volume (FAT, exFAT) or, for other filesystems, from
	// the mount point once the volume is mounted.
	MarkingChecked bool `cbor:"11,keyasint,omitempty" json:"marking_checked,omitempty"`
}

// Where a marking was found.
const (
	MarkingLabel = "label" // the volume label matches the policy's pattern
	MarkingFile  = "file"  // the marker file at the volume's root
)

// MediaMarking is how a municipal medium says it is one (S6.1).
type MediaMarking struct {
	Source         string `cbor:"1,keyasint" json:"source"`                 // MarkingLabel or MarkingFile
	ID             string `cbor:"2,keyasint,omitempty" json:"id,omitempty"` // the medium's marking id
	Classification string `cbor:"3,keyasint,omitempty" json:"classification,omitempty"`
}

// MediaDecision is what the agent decided and which rule decided it.
type MediaDecision struct {
	Verdict  string `cbor:"1,keyasint" json:"verdict"`                      // VerdictAllow or VerdictBlock
	Rule     string `cbor:"2,keyasint" json:"rule"`                         // MediaRule…
	Mode     string `cbor:"3,keyasint" json:"mode"`                         // the policy mode in force
	Enforced bool   `cbor:"4,keyasint,omitempty" json:"enforced,omitempty"` // a block took effect
	Error    string `cbor:"5,keyasint,omitempty" json:"error,omitempty"`    // why enforcing failed
}

// MediaMountInfo is a mount or unmount of one of the medium's volumes.
type MediaMountInfo struct {
	Volume string `cbor:"1,keyasint" json:"volume"`
	Point  string `cbor:"2,keyasint" json:"point"`
	FSType string `cbor:"3,keyasint,omitempty" json:"fs_type,omitempty"`
	// User is the session user that mounted it, where knowable (the user
	// folder of /media/<user>/… or /run/media/<user>/…, the mount point's
	// owner, or the interactive user on Windows); "" when not.
	User     string `cbor:"4,keyasint,omitempty" json:"user,omitempty"`
	ReadOnly bool   `cbor:"5,keyasint,omitempty" json:"read_only,omitempty"`
}

// MediaPolicy says how removable media are judged and marked.
type MediaPolicy struct {
	// Mode is MediaModeAudit (default) or MediaModeBlock.
	Mode string `cbor:"1,keyasint,omitempty" json:"mode,omitempty"`
	// LabelPattern is a path.Match pattern a municipal medium's volume label
	// matches ("NK-*"); "" when labels mark nothing.
	LabelPattern string `cbor:"2,keyasint,omitempty" json:"label_pattern,omitempty"`
	// MarkerFile is the name of the marker file at a volume's root
	// ("SONEVAKT.TXT"), holding "id=…" and "classification=…" lines; "" when
	// files mark nothing.
	MarkerFile string `cbor:"3,keyasint,omitempty" json:"marker_file,omitempty"`
	// Allowed are the register's media (MediaKey form; a "vid:pid:" entry
	// allows every serial of a model). In block mode only these are allowed.
	Allowed []string `cbor:"4,keyasint,omitempty" json:"allowed,omitempty"`
	// EnforceOptical also blocks optical drives (off: they are reported only).
	EnforceOptical bool `cbor:"5,keyasint,omitempty" json:"enforce_optical,omitempty"`
}

// Validate checks the policy's fields.
func (p MediaPolicy) Validate() error {
	switch p.Mode {
	case "", MediaModeAudit, MediaModeBlock:
	default:
		return fmt.Errorf("media mode %q: want %q or %q", p.Mode, MediaModeAudit, MediaModeBlock)
	}
	if p.LabelPattern != "" {
		if _, err := path.Match(p.LabelPattern, ""); err != nil {
			return fmt.Errorf("media label pattern %q: %v", p.LabelPattern, err)
		}
	}
	if strings.ContainsAny(p.MarkerFile, `/\`) || p.MarkerFile == "." || p.MarkerFile == ".." {
		return fmt.Errorf("media marker file %q: want a plain file name", p.MarkerFile)
	}
	for _, k := range p.Allowed {
		if strings.Count(k, ":") < 2 {
			return fmt.Errorf("media allowed entry %q: want vid:pid:serial", k)
		}
	}
	return nil
}

// Allows reports whether the policy's register holds the medium: its exact
// key, or its model with any serial.
func (p MediaPolicy) Allows(d MediaDevice) bool {
	if d.VID == "" && d.Serial == "" {
		return false
	}
	key := d.Key()
	model := MediaKey(d.VID, d.PID, "")
	for _, k := range p.Allowed {
		if k == key || (k == model && d.VID != "") {
			return true
		}
	}
	return false
}
