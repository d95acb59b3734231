package fsprobe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Errors of ReadRootFile; test for them with errors.Is.
var (
	// ErrNoFile: the root directory holds no regular file of that name.
	ErrNoFile = errors.New("file not in the root directory")
	// ErrUnsupported: the input is not a FAT12/16/32 or exFAT volume.
	ErrUnsupported = errors.New("not a FAT or exFAT volume")
	// ErrTooLarge: the file is larger than the caller's limit.
	ErrTooLarge = errors.New("file too large")
)

const (
	maxRootEntries = 64 << 10 // most 32-byte entries walked in a root directory
	dirChunk       = 64 << 10 // largest single read of a directory
	fatChunk       = 512      // FAT bytes read (and cached) at a time
	maxLFNEntries  = 20       // a long name has at most 255 UTF-16 units, 13 an entry
)

// ReadRootFile reads the regular file called name from the root directory
// of the FAT12, FAT16, FAT32 or exFAT volume in r, which holds size bytes,
// without mounting it. Names match case-insensitively (Unicode simple
// folding): FAT long names, FAT 8.3 short names (when they are plain
// ASCII: other bytes are in an unknown OEM code page) and exFAT names.
// Directories, volume labels and deleted entries never match.
//
// It returns at most max bytes: a larger file is ErrTooLarge. A missing
// file is ErrNoFile, a volume of another kind ErrUnsupported; a malformed
// volume is an error naming what is wrong and at which offset. It never
// reads at or past size, walks at most 65536 root directory entries, reads
// the FAT only along the chains it follows, and stops on a cluster chain
// that loops.
func ReadRootFile(r io.ReaderAt, size int64, name string, max int) (b []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = nil, fmt.Errorf("read %s from the root directory: aborted: %v", name, v)
		}
	}()
	return readRootFile(r, size, name, max)
}

// readRootFile is ReadRootFile without the recover, so that the fuzzer
// sees a panic.
func readRootFile(r io.ReaderAt, size int64, name string, limit int) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("file name %q: want a plain name", name)
	}
	if limit < 0 {
		return nil, fmt.Errorf("read %s: negative limit %d", name, limit)
	}
	v, err := openVolume(r, size)
	if err != nil {
		return nil, err
	}
	f, err := v.find(name)
	if err != nil {
		return nil, err
	}
	if f.length > int64(limit) {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit %d", name, ErrTooLarge, f.length, limit)
	}
	if f.length == 0 {
		return []byte{}, nil
	}
	return v.readData(f)
}

// openVolume reads the boot sector of a FAT or exFAT volume.
func openVolume(r io.ReaderAt, size int64) (*volume, error) {
	if size < 512 {
		return nil, fmt.Errorf("%w: input of %d bytes holds no boot sector", ErrUnsupported, size)
	}
	v := &volume{r: r, size: size}
	boot, err := v.read(0, 512, "boot sector")
	if err != nil {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(boot, luksMagic):
		return nil, fmt.Errorf("%w: LUKS header", ErrUnsupported)
	case bytes.Equal(boot[3:11], bitlockerMagic) || bytes.Equal(boot[160:176], bitlockerGUID) || bytes.Equal(boot[424:440], bitlockerGUID):
		return nil, fmt.Errorf("%w: BitLocker", ErrUnsupported)
	case string(boot[3:11]) == "NTFS    ":
		return nil, fmt.Errorf("%w: NTFS", ErrUnsupported)
	case string(boot[3:11]) == "EXFAT   ":
		err = v.exFATGeometry(boot)
	default:
		var ok bool
		if ok, err = v.fatGeometry(boot); !ok {
			return nil, fmt.Errorf("%w: no FAT or exFAT boot sector", ErrUnsupported)
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// rootFile is a file found in the root directory.
type rootFile struct {
	first      uint32 // first cluster
	length     int64  // bytes
	valid      int64  // bytes written (exFAT's ValidDataLength); the rest reads as zeros
	contiguous bool   // clusters follow each other; the FAT is not consulted (exFAT's NoFatChain)
	what       string // names the file and its entry, for errors
}

func (v *volume) find(name string) (rootFile, error) {
	if v.kind == "exFAT" {
		return v.exFATFind(name)
	}
	return v.fatFind(name)
}

// volume is a FAT or exFAT volume being read.
type volume struct {
	r    io.ReaderAt
	size int64

	kind        string // FAT12, FAT16, FAT32, exFAT
	clusterSize int64
	heap        int64  // byte offset of cluster 2
	clusters    uint32 // data clusters: valid numbers are 2 .. clusters+1
	fatOff      int64  // byte offset of the FAT in use
	fatLen      int64  // its length in bytes
	rootOff     int64  // FAT12/16: byte offset of the fixed root directory
	rootLen     int64  // FAT12/16: its length in bytes
	rootCluster uint32 // FAT32, exFAT: first cluster of the root directory

	cache    []byte // FAT bytes at cacheOff (relative to fatOff)
	cacheOff int64
}

// read returns n bytes at off, or an error naming what was read.
func (v *volume) read(off, n int64, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > v.size || n > v.size-off {
		return nil, fmt.Errorf("%s at offset %d (%d bytes) lies beyond the %d-byte input", what, off, n, v.size)
	}
	buf := make([]byte, n)
	k, err := v.r.ReadAt(buf, off)
	if k == len(buf) {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s at offset %d: input ends after %d of %d bytes", what, off, max(k, 0), n)
	}
	return nil, fmt.Errorf("read %s at offset %d: %w", what, off, err)
}

// fatGeometry reads a FAT boot sector. It reports false when boot is not
// one, and an error when it is one but cannot be used.
func (v *volume) fatGeometry(b []byte) (bool, error) {
	bps, spc := int64(le16(b, 11)), int64(b[13])
	reserved, nfats := int64(le16(b, 14)), int64(b[16])
	rootEntries := int64(le16(b, 17))
	if b[510] != 0x55 || b[511] != 0xaa || !isPow2(bps) || bps < 512 || bps > 4096 || !isPow2(spc) ||
		reserved == 0 || nfats == 0 || nfats > 4 || (b[21] != 0xf0 && b[21] < 0xf8) {
		return false, nil
	}
	total := int64(le16(b, 19))
	if total == 0 {
		total = int64(le32(b, 32))
	}
	// As Linux does: no 16-bit FAT size means FAT32; otherwise the
	// cluster count tells FAT12 from FAT16.
	fatSize := int64(le16(b, 22))
	active := int64(0)
	if fatSize == 0 {
		v.kind = "FAT32"
		fatSize = int64(le32(b, 36))
		if flags := le16(b, 40); flags&0x80 != 0 { // mirroring off: one FAT is active
			active = int64(flags & 0x0f)
			if active >= nfats {
				return true, fmt.Errorf("FAT32 boot sector at offset 40: active FAT %d of %d", active, nfats)
			}
		}
		v.rootCluster = le32(b, 44)
	}
	if fatSize == 0 {
		return true, errors.New("FAT boot sector at offset 22: FAT size 0")
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	dataSector := reserved + nfats*fatSize + rootSectors
	if total <= dataSector {
		return true, fmt.Errorf("FAT boot sector at offset 0: %d sectors in all, but data starts at sector %d", total, dataSector)
	}
	clusters := (total - dataSector) / spc
	if v.kind == "" {
		v.kind = "FAT16"
		if clusters <= 4084 {
			v.kind = "FAT12"
		}
		if rootEntries == 0 {
			return true, fmt.Errorf("%s boot sector at offset 17: no root directory entries", v.kind)
		}
		v.rootOff = (reserved + nfats*fatSize) * bps
		v.rootLen = rootEntries * 32
	}
	v.clusterSize = spc * bps
	v.heap = dataSector * bps
	v.fatOff = (reserved + active*fatSize) * bps
	v.fatLen = fatSize * bps
	// The FAT must also hold an entry for every cluster, and the highest
	// cluster number must stay below the bad-cluster mark.
	var fatEntries, most int64
	switch v.kind {
	case "FAT12":
		fatEntries, most = v.fatLen*2/3, 0xff5
	case "FAT16":
		fatEntries, most = v.fatLen/2, 0xfff5
	default:
		fatEntries, most = v.fatLen/4, 0x0ffffff5
	}
	clusters = min(clusters, fatEntries-2, most)
	if clusters < 1 {
		return true, fmt.Errorf("%s boot sector: no data clusters", v.kind)
	}
	v.clusters = uint32(clusters)
	if v.kind == "FAT32" && !v.valid(v.rootCluster) {
		return true, fmt.Errorf("FAT32 boot sector at offset 44: root directory cluster %d outside 2..%d", v.rootCluster, v.clusters+1)
	}
	return true, nil
}

// exFATGeometry reads an exFAT boot sector.
func (v *volume) exFATGeometry(b []byte) error {
	if b[510] != 0x55 || b[511] != 0xaa {
		return errors.New("exFAT boot sector at offset 510: no 0x55AA signature")
	}
	bpsShift, spcShift := b[108], b[109]
	if bpsShift < 9 || bpsShift > 12 || spcShift > 25-bpsShift {
		return fmt.Errorf("exFAT boot sector at offset 108: geometry shifts %d, %d invalid", bpsShift, spcShift)
	}
	bps := int64(1) << bpsShift
	v.kind = "exFAT"
	v.clusterSize = bps << spcShift
	v.fatOff = int64(le32(b, 80)) * bps
	v.fatLen = int64(le32(b, 84)) * bps
	nfats := b[110]
	if nfats != 1 && nfats != 2 {
		return fmt.Errorf("exFAT boot sector at offset 110: %d FATs", nfats)
	}
	if le16(b, 106)&1 != 0 && nfats == 2 { // the second FAT is active
		v.fatOff += v.fatLen
	}
	v.heap = int64(le32(b, 88)) * bps
	clusters := min(int64(le32(b, 92)), v.fatLen/4-2, 0xfffffff5)
	if clusters < 1 {
		return errors.New("exFAT boot sector at offset 92: no clusters")
	}
	v.clusters = uint32(clusters)
	v.rootCluster = le32(b, 96)
	if !v.valid(v.rootCluster) {
		return fmt.Errorf("exFAT boot sector at offset 96: root directory cluster %d outside 2..%d", v.rootCluster, v.clusters+1)
	}
	return nil
}

func (v *volume) valid(c uint32) bool { return c >= 2 && c-2 < v.clusters }

func (v *volume) clusterOff(c uint32) int64 { return v.heap + int64(c-2)*v.clusterSize }

// fatByte returns byte i of the FAT in use.
func (v *volume) fatByte(i int64) (byte, error) {
	if i >= v.cacheOff && i < v.cacheOff+int64(len(v.cache)) {
		return v.cache[i-v.cacheOff], nil
	}
	start := i - i%fatChunk
	n := min(fatChunk, v.fatLen-start, v.size-(v.fatOff+start))
	if n <= i-start {
		n = i - start + 1 // beyond the input: let read say so
	}
	b, err := v.read(v.fatOff+start, n, v.kind+" FAT")
	if err != nil {
		return 0, err
	}
	v.cache, v.cacheOff = b, start
	return b[i-start], nil
}

// next returns the FAT entry of cluster c: the next cluster of its chain,
// 0 at the chain's end, or an error for a free, bad or out-of-range entry.
func (v *volume) next(c uint32) (uint32, error) {
	var off, width int64
	switch v.kind {
	case "FAT12":
		off, width = int64(c)+int64(c)/2, 2
	case "FAT16":
		off, width = int64(c)*2, 2
	default:
		off, width = int64(c)*4, 4
	}
	if off+width > v.fatLen {
		return 0, fmt.Errorf("%s FAT entry of cluster %d lies beyond the FAT's %d bytes", v.kind, c, v.fatLen)
	}
	var e uint32
	for k := width - 1; k >= 0; k-- {
		b, err := v.fatByte(off + k)
		if err != nil {
			return 0, err
		}
		e = e<<8 | uint32(b)
	}
	var end uint32
	switch v.kind {
	case "FAT12":
		if c&1 != 0 {
			e >>= 4
		}
		e &= 0xfff
		end = 0xff8
	case "FAT16":
		end = 0xfff8
	case "FAT32":
		e &= 0x0fffffff
		end = 0x0ffffff8
	default:
		end = 0xffffffff
	}
	switch {
	case e >= end:
		return 0, nil
	case v.valid(e):
		return e, nil
	case e == 0:
		return 0, fmt.Errorf("%s FAT entry of cluster %d at offset %d: free cluster inside a chain", v.kind, c, v.fatOff+off)
	default:
		return 0, fmt.Errorf("%s FAT entry of cluster %d at offset %d: %#x is no cluster of 2..%d", v.kind, c, v.fatOff+off, e, v.clusters+1)
	}
}

// readData reads the file's clusters: consecutive ones when contiguous,
// otherwise along the FAT.
func (v *volume) readData(f rootFile) ([]byte, error) {
	out := make([]byte, f.length)
	seen := make(map[uint32]bool)
	c := f.first
	for pos := int64(0); pos < f.valid; {
		if !v.valid(c) {
			return nil, fmt.Errorf("%s: cluster %d at byte %d is no cluster of 2..%d", f.what, c, pos, v.clusters+1)
		}
		if seen[c] {
			return nil, fmt.Errorf("%s: cluster chain from %d loops back to cluster %d", f.what, f.first, c)
		}
		seen[c] = true
		n := min(v.clusterSize, f.valid-pos)
		b, err := v.read(v.clusterOff(c), n, f.what)
		if err != nil {
			return nil, err
		}
		copy(out[pos:], b)
		pos += n
		if pos >= f.valid {
			break
		}
		if f.contiguous {
			c++
			continue
		}
		nc, err := v.next(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.what, err)
		}
		if nc == 0 {
			return nil, fmt.Errorf("%s: cluster chain from %d ends after %d bytes, the file has %d", f.what, f.first, pos, f.valid)
		}
		c = nc
	}
	return out, nil
}

// dirWalker yields the 32-byte entries of a root directory: a fixed
// region (FAT12/16) or a cluster chain (FAT32, exFAT).
type dirWalker struct {
	v       *volume
	what    string
	off     int64 // next unread byte of the region or cluster
	left    int64 // bytes left in it
	cluster uint32
	chained bool
	seen    map[uint32]bool
	buf     []byte
	bufOff  int64
	entries int
}

func (v *volume) rootDir() *dirWalker {
	w := &dirWalker{v: v, what: v.kind + " root directory"}
	if v.kind == "FAT12" || v.kind == "FAT16" {
		w.off, w.left = v.rootOff, v.rootLen
		return w
	}
	w.chained, w.cluster = true, v.rootCluster
	w.seen = map[uint32]bool{v.rootCluster: true}
	w.off, w.left = v.clusterOff(v.rootCluster), v.clusterSize
	return w
}

// next returns the next entry and its offset; nil at the directory's end.
func (w *dirWalker) next() ([]byte, int64, error) {
	if len(w.buf) < 32 {
		if w.left < 32 && w.chained {
			nc, err := w.v.next(w.cluster)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", w.what, err)
			}
			if nc == 0 {
				return nil, 0, nil
			}
			if w.seen[nc] {
				return nil, 0, fmt.Errorf("%s: cluster chain from %d loops back to cluster %d", w.what, w.v.rootCluster, nc)
			}
			w.seen[nc] = true
			w.cluster = nc
			w.off, w.left = w.v.clusterOff(nc), w.v.clusterSize
		}
		if w.left < 32 {
			return nil, 0, nil
		}
		n := min(w.left, dirChunk) &^ 31
		b, err := w.v.read(w.off, n, w.what)
		if err != nil {
			return nil, 0, err
		}
		w.buf, w.bufOff = b, w.off
		w.off += n
		w.left -= n
	}
	if w.entries >= maxRootEntries {
		return nil, 0, fmt.Errorf("%s: more than %d entries", w.what, maxRootEntries)
	}
	w.entries++
	e, off := w.buf[:32], w.bufOff
	w.buf, w.bufOff = w.buf[32:], w.bufOff+32
	return e, off, nil
}

// lfn gathers the entries of a FAT long file name, which precede the
// short-name entry they belong to, last part first.
type lfn struct {
	units [maxLFNEntries * 13]uint16
	want  int  // ordinal of the next entry expected; 0 when none
	done  bool // ordinals down to 1 seen
	sum   byte // checksum of the short name they belong to
	n     int  // entries in the name
}

func (l *lfn) add(e []byte) {
	ord := int(e[0])
	if ord&0x40 != 0 {
		n := ord & 0x1f
		*l = lfn{want: n, sum: e[13], n: n}
		if n == 0 || n > maxLFNEntries {
			l.want = 0
			return
		}
	}
	if l.want == 0 || ord&0x1f != l.want || e[13] != l.sum {
		*l = lfn{}
		return
	}
	at := (l.want - 1) * 13
	for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
		for i := r[0]; i < r[1]; i += 2 {
			l.units[at] = le16(e, i)
			at++
		}
	}
	l.want--
	l.done = l.want == 0
}

// name returns the long name when it is complete and belongs to the short
// name sfn.
func (l *lfn) name(sfn []byte) (string, bool) {
	if !l.done || fatChecksum(sfn) != l.sum {
		return "", false
	}
	u := l.units[:l.n*13]
	if i := indexUnit(u, 0); i >= 0 {
		u = u[:i]
	}
	return string(utf16.Decode(u)), true
}

func indexUnit(u []uint16, c uint16) int {
	for i, x := range u {
		if x == c {
			return i
		}
	}
	return -1
}

func fatChecksum(sfn []byte) byte {
	var sum byte
	for _, c := range sfn[:11] {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// shortName returns an 8.3 name as "NAME.EXT", or false when it holds
// bytes beyond ASCII.
func shortName(sfn []byte) (string, bool) {
	for _, c := range sfn[:11] {
		if c < 0x20 || c >= 0x7f {
			return "", false
		}
	}
	base := strings.TrimRight(string(sfn[:8]), " ")
	ext := strings.TrimRight(string(sfn[8:11]), " ")
	if ext != "" {
		base += "." + ext
	}
	return base, true
}

func (v *volume) fatFind(name string) (rootFile, error) {
	w := v.rootDir()
	var long lfn
	for {
		e, off, err := w.next()
		if err != nil {
			return rootFile{}, err
		}
		if e == nil || e[0] == 0 {
			return rootFile{}, fmt.Errorf("%s: %w", name, ErrNoFile)
		}
		attr := e[11]
		switch {
		case e[0] == 0xe5:
			long = lfn{}
			continue
		case attr&0x3f == 0x0f:
			long.add(e)
			continue
		}
		ln, hasLong := long.name(e)
		long = lfn{}
		if attr&(0x08|0x10) != 0 { // volume label, directory
			continue
		}
		sn, plain := shortName(e)
		if !(hasLong && strings.EqualFold(ln, name)) && !(plain && strings.EqualFold(sn, name)) {
			continue
		}
		f := rootFile{first: uint32(le16(e, 26)), length: int64(le32(e, 28))}
		if v.kind == "FAT32" {
			f.first |= uint32(le16(e, 20)) << 16
		}
		f.valid = f.length
		f.what = fmt.Sprintf("%s file %s (entry at offset %d)", v.kind, name, off)
		return f, nil
	}
}

func (v *volume) exFATFind(name string) (rootFile, error) {
	w := v.rootDir()
	var set [][]byte // the entry set being gathered: a file entry and its secondaries
	var setOff int64
	want := 0 // secondary entries still to come
	for {
		e, off, err := w.next()
		if err != nil {
			return rootFile{}, err
		}
		if e == nil || e[0] == 0 {
			return rootFile{}, fmt.Errorf("%s: %w", name, ErrNoFile)
		}
		if want > 0 {
			if e[0]&0xc0 == 0xc0 { // in use, secondary
				set = append(set, e)
				want--
				if want == 0 {
					f, found, err := exFATSet(set, setOff, name)
					if found || err != nil {
						return f, err
					}
				}
				continue
			}
			want = 0 // a broken set: look at this entry afresh
		}
		if e[0] == 0x85 {
			n := int(e[1])
			if n < 2 {
				continue
			}
			set, setOff, want = [][]byte{e}, off, n
		}
	}
}

// exFATSet reports whether a complete entry set, found at off, is the
// regular file called name, and where its data lies.
func exFATSet(set [][]byte, off int64, name string) (rootFile, bool, error) {
	stream := set[1]
	if stream[0] != 0xc0 {
		return rootFile{}, false, nil
	}
	nameLen := int(stream[3])
	var units []uint16
	for _, e := range set[2:] {
		if e[0] != 0xc1 {
			break
		}
		for i := 2; i < 32 && len(units) < nameLen; i += 2 {
			units = append(units, le16(e, i))
		}
	}
	if nameLen == 0 || len(units) < nameLen || !strings.EqualFold(string(utf16.Decode(units)), name) {
		return rootFile{}, false, nil
	}
	if le16(set[0], 4)&0x10 != 0 { // a directory
		return rootFile{}, false, nil
	}
	var sum uint16
	for i, e := range set {
		for j, c := range e {
			if i == 0 && (j == 2 || j == 3) {
				continue
			}
			sum = (sum<<15 | sum>>1) + uint16(c)
		}
	}
	if stored := le16(set[0], 2); stored != sum {
		return rootFile{}, false, fmt.Errorf("exFAT entry set of %s at offset %d: checksum %#04x, computed %#04x", name, off, stored, sum)
	}
	flags := stream[1]
	valid, length := le64(stream, 8), le64(stream, 24)
	if valid > length {
		return rootFile{}, false, fmt.Errorf("exFAT entry set of %s at offset %d: valid data length %d beyond data length %d", name, off+32, valid, length)
	}
	if length > 0 && flags&1 == 0 {
		return rootFile{}, false, fmt.Errorf("exFAT entry set of %s at offset %d: %d bytes but no allocation", name, off+32, length)
	}
	if length > 1<<62 {
		return rootFile{}, false, fmt.Errorf("exFAT entry set of %s at offset %d: data length %d not understood", name, off+32, length)
	}
	return rootFile{
		first:      le32(stream, 20),
		length:     int64(length),
		valid:      int64(valid),
		contiguous: flags&2 != 0,
		what:       fmt.Sprintf("exFAT file %s (entry set at offset %d)", name, off),
	}, true, nil
}
