package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// killChildEnv names the spool directory of the child process of TestKill9.
const killChildEnv = "SONEVAKT_SPOOL_KILL_CHILD_DIR"

// TestKillChild is the child of TestKill9, not a test of its own: it appends
// from several goroutines and commits from another, printing "a <seq>" after
// each Append and "c <seq>" after each Commit has returned, until it is killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("the child process of TestKill9")
	}
	s, err := Open(dir, Options{SegmentBytes: 8 << 10})
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format, args...)
	}
	deadline := time.Now().Add(30 * time.Second) // never outlive a failed parent for long
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				seq, err := s.Append(record(w*1_000_000+i, 10+(i*53)%900))
				if err != nil {
					say("error: %v\n", err)
					os.Exit(2)
				}
				say("a %d\n", seq)
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			rs, err := s.Lease(7, 0)
			if err != nil {
				say("error: %v\n", err)
				os.Exit(2)
			}
			if len(rs) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			last := rs[len(rs)-1].Seq
			if err := s.Commit(last); err != nil {
				say("error: %v\n", err)
				os.Exit(2)
			}
			say("c %d\n", last)
			time.Sleep(time.Duration(last%3) * time.Millisecond)
		}
	})
	wg.Wait()
	s.Close()
	os.Exit(0)
}

// TestKill9 runs the test binary as a child that appends and commits, kills
// it (SIGKILL; TerminateProcess on Windows) at some instant, and checks that
// every append and commit the child saw return survived, several times over
// in the same directory.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	var maxSeq, maxCommit uint64
	for round, after := range []int{40, 150, 7, 400, 90} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		appended := map[uint64]bool{}
		sc := bufio.NewScanner(out)
		lines := 0
		for lines < after && sc.Scan() {
			line := sc.Text()
			kind, num, ok := strings.Cut(line, " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			if !ok || err != nil || (kind != "a" && kind != "c") {
				continue // test framework output
			}
			lines++
			if kind == "a" {
				if seq <= maxSeq {
					t.Errorf("round %d: child appended seq %d, not above %d from before", round, seq, maxSeq)
				}
				appended[seq] = true
			} else {
				maxCommit = max(maxCommit, seq)
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait() // "signal: killed"
		if lines < after {
			t.Fatalf("round %d: child stopped after %d lines, want %d", round, lines, after)
		}

		s, err := Open(dir, Options{SegmentBytes: 8 << 10})
		if err != nil {
			t.Fatalf("round %d: Open after kill = %v", round, err)
		}
		st := s.Stats()
		if st.Committed < maxCommit {
			t.Errorf("round %d: Committed = %d, child saw Commit(%d) return", round, st.Committed, maxCommit)
		}
		got := seqsOf(leaseAll(t, s))
		if len(got) > 0 && !slices.Equal(got, seqRange(st.Committed+1, got[len(got)-1])) {
			t.Errorf("round %d: records after kill are not contiguous from the commit point %d: %v", round, st.Committed, got)
		}
		present := map[uint64]bool{}
		for _, q := range got {
			present[q] = true
		}
		for q := range appended {
			if q > st.Committed && !present[q] {
				t.Errorf("round %d: seq %d was appended (Append returned) but is gone after kill -9", round, q)
			}
			maxSeq = max(maxSeq, q)
		}
		if st.NextSeq <= maxSeq {
			t.Errorf("round %d: NextSeq = %d, want above %d", round, st.NextSeq, maxSeq)
		}
		if st.Dropped != 0 {
			t.Errorf("round %d: Dropped = %d, want 0", round, st.Dropped)
		}
		maxSeq = st.NextSeq - 1
		t.Logf("round %d: killed after %d lines; %d appended seen, commit point %d, %d records waiting, next seq %d",
			round, after, len(appended), st.Committed, len(got), st.NextSeq)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
