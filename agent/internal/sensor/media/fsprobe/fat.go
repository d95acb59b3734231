package fsprobe

import "fmt"

func probeFAT(p *prober) (Facts, bool) {
	b := p.read(0, 512)
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xaa {
		return Facts{}, false
	}
	bps, spc := int64(le16(b, 11)), int64(b[13])
	reserved, nfats := int64(le16(b, 14)), int64(b[16])
	rootEntries := int64(le16(b, 17))
	if !isPow2(bps) || bps < 512 || bps > 4096 || !isPow2(spc) || reserved == 0 || nfats == 0 || nfats > 4 {
		return Facts{}, false
	}
	if b[21] != 0xf0 && b[21] < 0xf8 { // media descriptor
		return Facts{}, false
	}
	f := Facts{FSType: "vfat", Encrypted: "no"}
	total := int64(le16(b, 19))
	if total == 0 {
		total = int64(le32(b, 32))
	}
	p.checkSize(total*bps, "FAT boot sector")
	fatSize := int64(le16(b, 22))
	var sigOff int // extended boot signature
	var rootOff, rootLen int64
	if fatSize == 0 { // FAT32
		fatSize = int64(le32(b, 36))
		sigOff = 66
		dataStart := (reserved + nfats*fatSize) * bps
		rootCluster := int64(le32(b, 44))
		rootOff = dataStart + (rootCluster-2)*spc*bps
		rootLen = spc * bps
		if rootCluster < 2 {
			rootLen = 0
		}
	} else {
		sigOff = 38
		rootOff = (reserved + nfats*fatSize) * bps
		rootLen = rootEntries * 32
	}
	bpbLabel := ""
	if b[sigOff] == 0x29 || b[sigOff] == 0x28 {
		serial := le32(b, sigOff+1)
		f.UUID = fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff)
		if b[sigOff] == 0x29 {
			bpbLabel = latin1(b[sigOff+5 : sigOff+16])
		}
	}
	label, found := "", false
	if rootLen > maxDirLen {
		rootLen = maxDirLen
	}
	if rootLen > 0 {
		dir, ok := p.need(rootOff, rootLen, "FAT root directory")
		if ok {
			label, found = fatDirLabel(dir)
		}
	}
	if !found {
		label = bpbLabel
	}
	if label == "NO NAME" {
		label = ""
	}
	f.Label = label
	return f, true
}

// fatDirLabel finds the volume-label entry in a FAT directory.
func fatDirLabel(dir []byte) (string, bool) {
	for i := 0; i+32 <= len(dir); i += 32 {
		e := dir[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xe5 || e[11]&0x0f == 0x0f || e[11]&0x08 == 0 {
			continue
		}
		name := append([]byte(nil), e[:11]...)
		if name[0] == 0x05 {
			name[0] = 0xe5
		}
		return latin1(name), true
	}
	return "", false
}

func probeExFAT(p *prober) (Facts, bool) {
	b := p.read(0, 512)
	if len(b) < 11 || string(b[3:11]) != "EXFAT   " {
		return Facts{}, false
	}
	f := Facts{FSType: "exfat", Encrypted: "no"}
	if len(b) < 512 {
		p.problemf("exFAT boot sector truncated at %d bytes", len(b))
		return f, true
	}
	serial := le32(b, 100)
	f.UUID = fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff)
	bpsShift, spcShift := b[108], b[109]
	if bpsShift < 9 || bpsShift > 12 || spcShift > 25-bpsShift {
		p.problemf("exFAT boot sector geometry invalid (shifts %d, %d)", bpsShift, spcShift)
		return f, true
	}
	bps := int64(1) << bpsShift
	cluster := bps << spcShift
	p.checkSize(int64(le64(b, 72))*bps, "exFAT boot sector")
	heap, root := int64(le32(b, 88))*bps, int64(le32(b, 96))
	if root < 2 {
		p.problemf("exFAT root directory cluster %d invalid", root)
		return f, true
	}
	n := cluster
	if n > maxDirLen {
		n = maxDirLen
	}
	dir, ok := p.need(heap+(root-2)*cluster, n, "exFAT root directory")
	if !ok {
		return f, true
	}
	for i := 0; i+32 <= len(dir); i += 32 {
		e := dir[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0x83 {
			count := int(e[1])
			if count > 11 {
				count = 11
			}
			f.Label = utf16String(e[2:2+2*count], false)
			break
		}
	}
	return f, true
}
