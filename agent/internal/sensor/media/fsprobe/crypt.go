package fsprobe

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
)

var (
	luksMagic      = []byte("LUKS\xba\xbe")
	bitlockerMagic = []byte("-FVE-FS-")
	// bitlockerGUID is 4967d63b-2e29-4ad8-8399-f6a339e3d001 as stored on
	// disk; BitLocker puts it at 160 (Windows 7 and later) and BitLocker To
	// Go at 424 of a FAT boot sector whose OEM name is "MSWIN4.1".
	bitlockerGUID = []byte{0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01}
)

func probeLUKS(p *prober) (Facts, bool) {
	b := p.read(0, 512)
	if len(b) < 6 || !bytes.Equal(b[:6], luksMagic) {
		return Facts{}, false
	}
	f := Facts{FSType: "crypto_LUKS", Encrypted: "yes"}
	if len(b) < 208 {
		p.problemf("LUKS header truncated at %d bytes", len(b))
		return f, true
	}
	version := binary.BigEndian.Uint16(b[6:])
	f.UUID = latin1(b[168:208])
	switch version {
	case 1:
		f.Encryption = "luks1"
		payload := int64(binary.BigEndian.Uint32(b[104:])) * 512
		p.checkSize(payload, "LUKS1 header")
	case 2:
		f.Encryption = "luks2"
		f.Label = latin1(b[24:72])
		luks2Segments(p, int64(binary.BigEndian.Uint64(b[8:])))
	default:
		p.problemf("LUKS header version %d not understood", version)
	}
	return f, true
}

// luks2Segments checks that the data segments named in the JSON area lie
// within the input.
func luks2Segments(p *prober, hdrSize int64) {
	if hdrSize < 4096+2 || hdrSize > 4<<20 {
		p.problemf("LUKS2 header size %d not understood", hdrSize)
		return
	}
	b, ok := p.need(4096, hdrSize-4096, "LUKS2 JSON area")
	if !ok {
		return
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	var meta struct {
		Segments map[string]struct {
			Offset string `json:"offset"`
		} `json:"segments"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		p.problemf("decode LUKS2 JSON area: %v", err)
		return
	}
	for _, s := range meta.Segments {
		if off, err := strconv.ParseInt(s.Offset, 10, 64); err == nil {
			p.checkSize(off, "LUKS2 data segment")
		}
	}
}

func probeBitLocker(p *prober) (Facts, bool) {
	b := p.read(0, 512)
	if len(b) < 11 {
		return Facts{}, false
	}
	at := func(off int) bool { return len(b) >= off+16 && bytes.Equal(b[off:off+16], bitlockerGUID) }
	if !bytes.Equal(b[3:11], bitlockerMagic) && !at(424) && !at(160) {
		return Facts{}, false
	}
	return Facts{FSType: "bitlocker", Encrypted: "yes", Encryption: "bitlocker"}, true
}
