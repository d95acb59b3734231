package media

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/media/fsprobe"
	"github.com/sonevakt/sonevakt/agent/internal/sensor/media/marking"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// maxMarker is the most bytes of a marker file read.
const maxMarker = 4 << 10

// ReadVolume reads what a volume's own bytes say — filesystem, label, UUID,
// encryption — and its marking under policy p: the label against the
// pattern, and the marker file read straight from the filesystem where the
// format allows (FAT, exFAT). MarkingChecked is set when every marking the
// policy names was looked for; a marker file on any other filesystem is read
// through the mount point once the volume is mounted. r holds size bytes;
// name names the volume in the result. Nothing read makes it fail: what
// could not be read is in Problems.
func ReadVolume(r io.ReaderAt, size int64, name string, p wire.MediaPolicy) wire.MediaVolume {
	f := fsprobe.Probe(r, size)
	v := wire.MediaVolume{Name: name, FSType: f.FSType, Label: f.Label, UUID: f.UUID,
		Encrypted: f.Encrypted, Encryption: f.Encryption, Problems: f.Problems}
	if size > 0 {
		v.SizeBytes = uint64(size)
	}
	var file []byte
	found, checked := false, p.MarkerFile == ""
	if p.MarkerFile != "" {
		b, err := fsprobe.ReadRootFile(r, size, p.MarkerFile, maxMarker)
		switch {
		case err == nil:
			file, found, checked = b, true, true
		case errors.Is(err, fsprobe.ErrNoFile):
			checked = true
		case errors.Is(err, fsprobe.ErrTooLarge):
			// Looked for and found wanting: no marker file holds that much.
			checked = true
			v.Problems = append(v.Problems, fmt.Sprintf("marker file %s ignored: %v", p.MarkerFile, err))
		case errors.Is(err, fsprobe.ErrUnsupported):
			// Read through the mount point once mounted.
		default:
			v.Problems = append(v.Problems, fmt.Sprintf("marker file %s: %v", p.MarkerFile, err))
		}
	}
	setMarking(&v, file, found, p)
	v.MarkingChecked = checked
	return v
}

// markFromMount looks for the policy's marker file at the root of v mounted
// at point and records the marking. A file that cannot be read leaves the
// marking unchecked and says why.
func markFromMount(v *wire.MediaVolume, point string, p wire.MediaPolicy) {
	b, found, err := readMarker(filepath.Join(point, p.MarkerFile))
	if errors.Is(err, errMarkerTooLarge) {
		// Looked for and found wanting: no marker file holds that much.
		v.Problems = append(v.Problems, fmt.Sprintf("marker file %s at %s ignored: %v", p.MarkerFile, point, err))
		b, found, err = nil, false, nil
	}
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("marker file %s at %s: %v", p.MarkerFile, point, err))
		return
	}
	setMarking(v, b, found, p)
	v.MarkingChecked = true
}

// setMarking judges v's label and marker file (when found) under p.
func setMarking(v *wire.MediaVolume, file []byte, found bool, p wire.MediaPolicy) {
	m, problem := marking.FindWithProblem(v.Label, file, found, p)
	v.Marking = m
	if problem != "" {
		v.Problems = append(v.Problems, problem)
	}
}

// errMarkerTooLarge refuses a marker file over maxMarker bytes.
var errMarkerTooLarge = fmt.Errorf("larger than %d bytes", maxMarker)

// errSymlink refuses a marker file that is a symbolic link: it could point
// anywhere on the machine.
var errSymlink = errors.New("a symbolic link, not followed")

// readMarker reads the regular file at path, of at most maxMarker bytes,
// without following a symbolic link in its last element; found is false when
// there is no such file.
func readMarker(path string) (b []byte, found bool, err error) {
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("not a regular file (%v)", st.Mode().Type())
	}
	b, err = io.ReadAll(io.LimitReader(f, maxMarker+1))
	if err != nil {
		return nil, false, err
	}
	if len(b) > maxMarker {
		return nil, false, errMarkerTooLarge
	}
	return b, true, nil
}
