package fsprobe

import "bytes"

const isoSector = 2048

func probeISO(p *prober) (Facts, bool) {
	var f Facts
	found := false
	for i := int64(0); i < 32; i++ {
		d := p.read(32768+i*isoSector, isoSector)
		if len(d) < 6 || string(d[1:6]) != "CD001" {
			break
		}
		if !found {
			found = true
			f = Facts{FSType: "iso9660", Encrypted: "no"}
		}
		if len(d) < isoSector {
			p.problemf("ISO 9660 volume descriptor truncated at %d bytes", 32768+i*isoSector+int64(len(d)))
			break
		}
		switch d[0] {
		case 1:
			if f.Label == "" {
				f.Label = latin1(d[40:72])
			}
			p.checkSize(int64(le32(d, 80))*int64(le16(d, 128)), "ISO 9660 primary volume descriptor")
		case 2:
			esc := d[88:91]
			if bytes.Equal(esc, []byte("%/@")) || bytes.Equal(esc, []byte("%/C")) || bytes.Equal(esc, []byte("%/E")) {
				if l := utf16String(d[40:72], true); l != "" {
					f.Label = l
					return f, true // Joliet label wins
				}
			}
		case 255:
			return f, true
		}
	}
	return f, found
}

func probeUDF(p *prober) (Facts, bool) {
	nsr := false
	for i := int64(0); i < 64; i++ {
		d := p.read(32768+i*isoSector, 7)
		if len(d) < 6 {
			break
		}
		id := string(d[1:6])
		if id == "NSR02" || id == "NSR03" {
			nsr = true
			break
		}
		if id != "BEA01" && id != "CD001" && id != "BOOT2" && id != "CDW02" && id != "TEA01" {
			break
		}
		if id == "TEA01" {
			break
		}
	}
	if !nsr {
		return Facts{}, false
	}
	f := Facts{FSType: "udf", Encrypted: "no"}
	for _, bs := range []int64{2048, 512, 1024, 4096} {
		a := p.read(256*bs, 512)
		if len(a) < 24 || le16(a, 0) != 2 || le32(a, 12) != 256 {
			continue
		}
		udfLabel(p, &f, bs, int64(le32(a, 16)), int64(le32(a, 20)))
		return f, true
	}
	p.problemf("UDF anchor volume descriptor not found at block 256")
	return f, true
}

// udfLabel walks the main volume descriptor sequence: the logical volume
// identifier is the label, the primary volume identifier the fallback.
func udfLabel(p *prober, f *Facts, bs, length, loc int64) {
	pvd := ""
	n := length / bs
	if n > 64 {
		n = 64
	}
	for i := int64(0); i < n; i++ {
		d, ok := p.need((loc+i)*bs, 512, "UDF volume descriptor")
		if !ok {
			return
		}
		switch le16(d, 0) {
		case 1: // primary volume descriptor
			pvd = dstring(d[24:56])
		case 5: // partition descriptor
			p.checkSize((int64(le32(d, 188))+int64(le32(d, 192)))*bs, "UDF partition descriptor")
		case 6: // logical volume descriptor
			f.Label = dstring(d[84:212])
		case 8: // terminating descriptor
			i = n
		}
	}
	if f.Label == "" {
		f.Label = pvd
	}
}

// dstring decodes an OSTA compressed-unicode dstring whose last byte is the
// used length.
func dstring(b []byte) string {
	n := int(b[len(b)-1])
	if n < 2 || n > len(b)-1 {
		return ""
	}
	b = b[:n]
	switch b[0] {
	case 8:
		return latin1(b[1:])
	case 16:
		return utf16String(b[1:], true)
	}
	return ""
}
