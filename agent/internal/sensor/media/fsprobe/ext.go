package fsprobe

import "fmt"

const (
	extCompatHasJournal = 0x4
	ext3IncompatSupp    = 0x2 | 0x4 | 0x10 // filetype, recover, meta_bg
	ext3ROCompatSupp    = 0x1 | 0x2 | 0x4  // sparse_super, large_file, btree_dir
	extIncompat64Bit    = 0x80
)

func probeExt(p *prober) (Facts, bool) {
	b := p.read(1024, 1024)
	if len(b) < 0x3a || le16(b, 0x38) != 0xef53 {
		return Facts{}, false
	}
	f := Facts{FSType: "ext2", Encrypted: "no"}
	if len(b) < 1024 {
		p.problemf("ext superblock truncated at %d bytes", 1024+len(b))
		return f, true
	}
	compat, incompat, roCompat := le32(b, 0x5c), le32(b, 0x60), le32(b, 0x64)
	switch {
	case incompat&^ext3IncompatSupp != 0 || roCompat&^ext3ROCompatSupp != 0:
		f.FSType = "ext4"
	case compat&extCompatHasJournal != 0:
		f.FSType = "ext3"
	}
	u := b[0x68:0x78]
	f.UUID = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	f.Label = latin1(b[0x78:0x88])
	if logBlock := le32(b, 0x18); logBlock <= 6 {
		blocks := int64(le32(b, 0x4))
		if incompat&extIncompat64Bit != 0 {
			blocks |= int64(le32(b, 0x150)) << 32
		}
		if blocks < 1<<40 {
			p.checkSize(blocks*(1024<<logBlock), "ext superblock")
		}
	}
	return f, true
}
