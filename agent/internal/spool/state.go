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
	stateName  = "state"
	lockName   = "lock"
	tmpSuffix  = ".tmp"
	stateMagic = "SVSTATE\x01"
	stateSize  = len(stateMagic) + 4*8 + 4
)

// state is what the spool cannot learn from its segments, persisted in the
// state file. It is replaced atomically: temp file, fsync, rename, fsync dir.
type state struct {
	Committed uint64 // every seq <= Committed is acked by the collector
	DropFloor uint64 // every seq <= DropFloor that was not acked is dropped
	Last      uint64 // highest seq assigned when the state was written
	Dropped   uint64 // records dropped over the spool's lifetime
}

func (st state) floor() uint64 { return max(st.Committed, st.DropFloor) }

func (st state) marshal() []byte {
	b := make([]byte, 0, stateSize)
	b = append(b, stateMagic...)
	b = binary.BigEndian.AppendUint64(b, st.Committed)
	b = binary.BigEndian.AppendUint64(b, st.DropFloor)
	b = binary.BigEndian.AppendUint64(b, st.Last)
	b = binary.BigEndian.AppendUint64(b, st.Dropped)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// errBadState says the state file exists but cannot be trusted.
var errBadState = errors.New("bad state file")

func unmarshalState(b []byte) (state, error) {
	if len(b) >= len(stateMagic) && string(b[:7]) == stateMagic[:7] && b[7] != stateMagic[7] {
		return state{}, fmt.Errorf("state format version %d, want %d: %w", b[7], stateMagic[7], ErrFormat)
	}
	if len(b) != stateSize || string(b[:len(stateMagic)]) != stateMagic {
		return state{}, fmt.Errorf("%w: %d bytes, no valid header", errBadState, len(b))
	}
	body, sum := b[:stateSize-4], binary.BigEndian.Uint32(b[stateSize-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return state{}, fmt.Errorf("%w: checksum mismatch", errBadState)
	}
	p := body[len(stateMagic):]
	return state{
		Committed: binary.BigEndian.Uint64(p[0:]),
		DropFloor: binary.BigEndian.Uint64(p[8:]),
		Last:      binary.BigEndian.Uint64(p[16:]),
		Dropped:   binary.BigEndian.Uint64(p[24:]),
	}, nil
}

// readState reads the state file in dir. A missing file is a zero state.
func readState(dir string) (state, error) {
	path := filepath.Join(dir, stateName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read state %s: %w", path, err)
	}
	st, err := unmarshalState(b)
	if err != nil {
		return state{}, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, nil
}

// writeState replaces the state file in dir atomically; with sync it is durable
// when writeState returns.
func writeState(dir string, st state, sync bool) error {
	path := filepath.Join(dir, stateName)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write state %s: %w", tmp, err)
	}
	_, err = f.Write(st.marshal())
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if sync {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("write state %s: sync dir: %w", path, err)
		}
	}
	return nil
}
