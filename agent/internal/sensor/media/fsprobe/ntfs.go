package fsprobe

import (
	"bytes"
	"fmt"
)

func probeNTFS(p *prober) (Facts, bool) {
	b := p.read(0, 512)
	if len(b) < 11 || string(b[3:11]) != "NTFS    " {
		return Facts{}, false
	}
	f := Facts{FSType: "ntfs", Encrypted: "no"}
	if len(b) < 512 {
		p.problemf("NTFS boot sector truncated at %d bytes", len(b))
		return f, true
	}
	f.UUID = fmt.Sprintf("%016X", le64(b, 0x48))
	bps := int64(le16(b, 11))
	spc := int64(b[13])
	if spc > 0x80 {
		spc = 1 << (256 - spc)
	}
	if !isPow2(bps) || bps < 256 || bps > 4096 || !isPow2(spc) {
		p.problemf("NTFS boot sector geometry invalid (%d bytes per sector, %d sectors per cluster)", bps, spc)
		return f, true
	}
	cluster := bps * spc
	p.checkSize(int64(le64(b, 0x28))*bps, "NTFS boot sector")
	recSize := int64(int8(b[0x40]))
	if recSize < 0 {
		if recSize < -31 {
			p.problemf("NTFS MFT record size 2^%d not understood", -recSize)
			return f, true
		}
		recSize = 1 << -recSize
	} else {
		recSize *= cluster
	}
	mft := int64(le64(b, 0x30))
	if recSize < 512 || recSize > 64<<10 || mft <= 0 || mft > p.size/cluster {
		p.problemf("NTFS MFT location not understood (cluster %d, record size %d)", mft, recSize)
		return f, true
	}
	rec, ok := p.need(mft*cluster+3*recSize, recSize, "NTFS $Volume record")
	if !ok {
		return f, true
	}
	label, err := ntfsVolumeName(rec)
	if err != nil {
		p.problemf("read NTFS label: %v", err)
	}
	f.Label = label
	return f, true
}

// ntfsVolumeName applies the fixups of an MFT record and returns the value
// of its $VOLUME_NAME (0x60) attribute.
func ntfsVolumeName(rec []byte) (string, error) {
	if !bytes.Equal(rec[:4], []byte("FILE")) {
		return "", fmt.Errorf("$Volume record has no FILE signature")
	}
	usaOff, usaCount := int(le16(rec, 4)), int(le16(rec, 6))
	if usaCount < 1 || usaOff+2*usaCount > len(rec) || (usaCount-1)*512 > len(rec) {
		return "", fmt.Errorf("$Volume record update sequence out of range")
	}
	for i := 1; i < usaCount; i++ {
		end := i*512 - 2
		if rec[end] != rec[usaOff] || rec[end+1] != rec[usaOff+1] {
			return "", fmt.Errorf("$Volume record sector %d fails its fixup check", i)
		}
		copy(rec[end:end+2], rec[usaOff+2*i:usaOff+2*i+2])
	}
	off := int(le16(rec, 0x14))
	for off+16 <= len(rec) {
		typ, length := le32(rec, off), int(le32(rec, off+4))
		if typ == 0xffffffff {
			break
		}
		if length < 16 || off+length > len(rec) {
			return "", fmt.Errorf("$Volume record attribute at %d has length %d", off, length)
		}
		if typ == 0x60 {
			if rec[off+8] != 0 {
				return "", fmt.Errorf("$VOLUME_NAME is not resident")
			}
			vlen, voff := int(le32(rec, off+0x10)), int(le16(rec, off+0x14))
			if voff+vlen > length {
				return "", fmt.Errorf("$VOLUME_NAME value out of range")
			}
			return utf16String(rec[off+voff:off+voff+vlen], false), nil
		}
		off += length
	}
	return "", nil
}
