// Command spoolfill is a test tool, not shipped: it appends records to an
// agent's spool with the real spool code until the spool has dropped records
// at its bound, so that the fault tests (e2e/faults_kill_test.go) can kill an
// agent whose spool is full without waiting minutes for sensors to fill it.
//
//	spoolfill DIR MAX_BYTES
//
// DIR is the spool directory (the agent's data dir + "/spool"); MAX_BYTES
// the bound the agent runs with. The records are health records whose
// sensor error text is random, so that compression does not shrink them. It
// prints the spool's stats as "records=… dropped=… next_seq=…".
package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "spoolfill:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: spoolfill DIR MAX_BYTES")
	}
	max, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || max < 1<<20 {
		return fmt.Errorf("MAX_BYTES %q: want at least 1 MiB", args[1])
	}
	sp, err := spool.Open(args[0], spool.Options{MaxBytes: max})
	if err != nil {
		return err
	}
	defer sp.Close()
	pad := make([]byte, 6<<10)
	// Until the bound made the spool drop records and the spool is again
	// within a few KiB of it: a full spool, which the agent's next records
	// push over the bound.
	full := func() bool { st := sp.Stats(); return st.Dropped > 0 && int64(st.Bytes) > max-12<<10 }
	for i := 0; !full(); i++ {
		if i > 100000 {
			return fmt.Errorf("no drops after %d records: %+v", i, sp.Stats())
		}
		if _, err := rand.Read(pad); err != nil {
			return err
		}
		h := wire.Health{AgentVersion: "spoolfill", SpoolDropped: 0,
			Sensors: []wire.SensorStatus{{Name: "spoolfill", State: "running", Error: base64.StdEncoding.EncodeToString(pad)}}}
		r, err := wire.NewRecord(wire.KindHealth, time.Now(), h)
		if err != nil {
			return err
		}
		if _, err := sp.Append(r); err != nil {
			return err
		}
	}
	st := sp.Stats()
	fmt.Printf("records=%d dropped=%d next_seq=%d bytes=%d\n", st.Records, st.Dropped, st.NextSeq, st.Bytes)
	return nil
}
