package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	stateName = "state"
	lockName  = "lock"
	tmpSuffix = ".tmp"

	// The state file (format 2) is preallocated at its full size when it is
	// created and afterwards only overwritten in place, so that committing and
	// dropping work on a full disk: overwriting blocks a file already owns
	// needs no new ones (ext4, xfs, tmpfs, NTFS; not on copy-on-write file
	// systems such as btrfs or ZFS). It holds two slots, each in its own
	// 4 KiB page; a write goes to the slot that does not hold the newest state,
	// so a write torn by a power cut leaves the other slot intact. Open takes
	// the valid slot with the higher generation. A damaged newest slot is
	// taken for a torn write, which is exact: no segment was removed on its
	// word, so the segments still hold all the older slot needs. Had it
	// instead rotted after a complete write, the spool resumes from the
	// state before it: acked records are sent again with their seqs (the
	// collector dedupes), and no seq is assigned twice, because the segment
	// with the highest seq is only removed after both slots hold it (see
	// removeAcked and load). Damage to both slots makes the seqs jump ahead.
	stateMagic     = "SVSTATE\x02"
	stateSlotSize  = 4096
	stateFileSize  = 2 * stateSlotSize
	stateSlotBytes = len(stateMagic) + 8 + 4*8 + 4 // magic, generation, state, CRC-32C

	// Format 1, read (and migrated) from spools written by older agents: one
	// record, replaced atomically by temp file and rename, which needs a
	// free block for every write.
	stateMagicV1 = "SVSTATE\x01"
	stateSizeV1  = len(stateMagicV1) + 4*8 + 4
)

// state is what the spool cannot learn from its segments, persisted in the
// state file.
type state struct {
	Committed uint64 // every seq <= Committed is acked by the collector
	DropFloor uint64 // every seq <= DropFloor that was not acked is dropped
	Last      uint64 // highest seq assigned when the state was written
	Dropped   uint64 // records dropped over the spool's lifetime
}

func (st state) floor() uint64 { return max(st.Committed, st.DropFloor) }

func (st state) appendFields(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, st.Committed)
	b = binary.BigEndian.AppendUint64(b, st.DropFloor)
	b = binary.BigEndian.AppendUint64(b, st.Last)
	return binary.BigEndian.AppendUint64(b, st.Dropped)
}

func parseFields(p []byte) state {
	return state{
		Committed: binary.BigEndian.Uint64(p[0:]),
		DropFloor: binary.BigEndian.Uint64(p[8:]),
		Last:      binary.BigEndian.Uint64(p[16:]),
		Dropped:   binary.BigEndian.Uint64(p[24:]),
	}
}

// marshalSlot encodes st with its generation as one slot of stateSlotBytes.
func marshalSlot(st state, gen uint64) []byte {
	b := make([]byte, 0, stateSlotBytes)
	b = append(b, stateMagic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = st.appendFields(b)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// unmarshalSlot decodes a slot. ok is false for a slot that was never written
// or was torn.
func unmarshalSlot(b []byte) (st state, gen uint64, ok bool) {
	b = b[:stateSlotBytes]
	if string(b[:len(stateMagic)]) != stateMagic {
		return state{}, 0, false
	}
	body, sum := b[:stateSlotBytes-4], binary.BigEndian.Uint32(b[stateSlotBytes-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return state{}, 0, false
	}
	p := body[len(stateMagic):]
	return parseFields(p[8:]), binary.BigEndian.Uint64(p), true
}

// marshalV1 encodes st in format 1 (tests write old spools with it).
func marshalV1(st state) []byte {
	b := make([]byte, 0, stateSizeV1)
	b = append(b, stateMagicV1...)
	b = st.appendFields(b)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// errBadState says the state file exists but cannot be trusted.
var errBadState = errors.New("bad state file")

// newerFormat reports whether b starts with a state magic of a version this
// build does not know.
func newerFormat(b []byte) (byte, bool) {
	if len(b) < len(stateMagic) || string(b[:len(stateMagic)-1]) != stateMagic[:len(stateMagic)-1] {
		return 0, false
	}
	v := b[len(stateMagic)-1]
	return v, v != stateMagic[len(stateMagic)-1] && v != stateMagicV1[len(stateMagicV1)-1]
}

// loadedState is a decoded state file.
type loadedState struct {
	state
	gen   uint64 // generation of the slot it came from; 0 for format 1 or none
	found bool   // the file exists
	v1    bool   // the file is in format 1 and wants migrating
	torn  bool   // one slot was damaged (a torn write) and the other was used
}

// unmarshalState decodes a state file of either format.
func unmarshalState(b []byte) (loadedState, error) {
	for _, off := range []int{0, stateSlotSize} {
		if off < len(b) {
			if v, newer := newerFormat(b[off:]); newer {
				return loadedState{}, fmt.Errorf("state format version %d, want %d: %w", v, stateMagic[len(stateMagic)-1], ErrFormat)
			}
		}
	}
	switch len(b) {
	case stateSizeV1:
		if string(b[:len(stateMagicV1)]) != stateMagicV1 {
			break
		}
		body, sum := b[:stateSizeV1-4], binary.BigEndian.Uint32(b[stateSizeV1-4:])
		if crc32.Checksum(body, castagnoli) != sum {
			return loadedState{}, fmt.Errorf("%w: checksum mismatch", errBadState)
		}
		return loadedState{state: parseFields(body[len(stateMagicV1):]), v1: true}, nil
	case stateFileSize:
		a, genA, okA := unmarshalSlot(b[:stateSlotSize])
		c, genB, okB := unmarshalSlot(b[stateSlotSize:])
		switch {
		case okA && (!okB || genA >= genB):
			return loadedState{state: a, gen: genA, torn: !okB && !zero(b[stateSlotSize:])}, nil
		case okB:
			return loadedState{state: c, gen: genB, torn: !okA && !zero(b[:stateSlotSize])}, nil
		}
		return loadedState{}, fmt.Errorf("%w: no valid slot", errBadState)
	}
	return loadedState{}, fmt.Errorf("%w: %d bytes, no valid header", errBadState, len(b))
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readState reads the state file in dir. A missing file is a zero state.
func readState(dir string) (loadedState, error) {
	path := filepath.Join(dir, stateName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return loadedState{}, nil
	}
	if err != nil {
		return loadedState{}, fmt.Errorf("read state %s: %w", path, err)
	}
	ls, err := unmarshalState(b)
	ls.found = true
	if err != nil {
		return ls, fmt.Errorf("read state %s: %w", path, err)
	}
	return ls, nil
}

// stateFile is an open format-2 state file, written in place.
type stateFile struct {
	f    *os.File
	path string
	gen  uint64 // generation of the newest slot written
	sync bool
}

// openStateFile opens the format-2 state file in dir whose newest valid slot
// has generation gen (0: none is valid; the next write goes to slot 1, then
// slot 0, …). It checks the file's size: every write must stay within it.
func openStateFile(dir string, gen uint64, sync bool) (*stateFile, error) {
	path := filepath.Join(dir, stateName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != stateFileSize {
		err = fmt.Errorf("%d bytes, want %d", fi.Size(), stateFileSize)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	return &stateFile{f: f, path: path, gen: gen, sync: sync}, nil
}

// createStateFile writes a new, preallocated format-2 state file holding st
// in slot 0 (generation 2) and replaces whatever state file dir had with it
// atomically: temp file, fsync, rename, fsync dir. Every byte of the file is
// written (real zeros, never a sparse file), so that later writes in place
// need no new blocks. This is the only state write that needs free space.
func createStateFile(dir string, st state, sync bool) (*stateFile, error) {
	path := filepath.Join(dir, stateName)
	tmp := path + tmpSuffix
	if err := noSpace("open", tmp); err != nil {
		return nil, fmt.Errorf("create state %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create state %s: %w", tmp, err)
	}
	const gen = 2 // even: slot 0; the next write goes to slot 1
	b := make([]byte, stateFileSize)
	copy(b, marshalSlot(st, gen))
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if err == nil {
		// Windows cannot rename an open file over another; close first.
		err = f.Close()
		f = nil
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp)
		return nil, fmt.Errorf("create state %s: %w", path, err)
	}
	if sync {
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("create state %s: sync dir: %w", path, err)
		}
	}
	return openStateFile(dir, gen, sync)
}

// write stores st in the slot that does not hold the newest state, in place,
// and (with sync) makes it durable before returning. It allocates nothing.
func (sf *stateFile) write(st state) error {
	gen := sf.gen + 1
	off := int64(gen%2) * stateSlotSize
	_, err := sf.f.WriteAt(marshalSlot(st, gen), off)
	if err == nil && sf.sync {
		err = sf.f.Sync()
	}
	if err != nil {
		// The slot may be half written, or written and not durable: the
		// next write must not overwrite the other, intact slot. Skip a
		// generation so that it goes to this slot again.
		sf.gen = gen + 1
		return fmt.Errorf("write state %s: %w", sf.path, err)
	}
	sf.gen = gen
	return nil
}

func (sf *stateFile) close() error { return sf.f.Close() }
