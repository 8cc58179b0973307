package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// heapCommit is the Go runtime's unit of heap commitment: its heap
// mappings are aligned multiples of it.
const heapCommit = 4 << 20

// vma is one mapping of /proc/PID/smaps.
type vma struct {
	start, end uint64
	perms      string
	anonymous  bool
	flags      []string
}

// readSmaps lists the mappings of process pid.
func readSmaps(t *testing.T, pid int) []vma {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vma
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "VmFlags:" && len(out) > 0 {
			out[len(out)-1].flags = fields[1:]
			continue
		}
		bounds := strings.SplitN(fields[0], "-", 2)
		if len(bounds) != 2 || len(fields) < 5 {
			continue
		}
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue // a "Key: value" line
		}
		out = append(out, vma{start: start, end: end, perms: fields[1], anonymous: fields[4] == "0" && len(fields) == 5})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (v vma) has(flag string) bool { return slices.Contains(v.flags, flag) }

// goHeap returns the mappings shaped like the Go runtime's heap:
// anonymous, read-write, aligned multiples of 4 MiB. (Some of the
// runtime's own metadata has that shape too.)
func goHeap(maps []vma) []vma {
	var out []vma
	for _, v := range maps {
		if v.anonymous && v.perms == "rw-p" && v.start%heapCommit == 0 && (v.end-v.start)%heapCommit == 0 {
			out = append(out, v)
		}
	}
	return out
}

// A barco process asks for transparent huge pages for its Go heap (the
// C wrapper around mmap in cmd/barco/startup.go), and only there;
// GODEBUG=disablethp=1 turns that off as it does for any Go program.
func TestHeapHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("the kernel has no transparent huge pages")
	}
	for _, tc := range []struct {
		name string
		env  []string
		huge bool
	}{
		{"default", nil, true},
		{"GODEBUG=disablethp=1", []string{"GODEBUG=disablethp=1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("sleep", "60")
			cmd := exec.Command(env.binary, "--root", c.root, "run", "--bundle", c.bundle, c.id)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			wait := startForeground(t, cmd)
			if err := eventually(10*time.Second, func() error {
				// Not there at all until run has created it.
				s, err := c.tryState()
				if err == nil && s.Status != "running" {
					err = fmt.Errorf("status %q", s.Status)
				}
				return err
			}); err != nil {
				t.Fatalf("barco run: %v\n%s", err, stderr.String())
			}
			maps := readSmaps(t, cmd.Process.Pid)
			c.mustBarco("kill", c.id, "KILL")
			wait()

			var advised []vma
			for _, v := range maps {
				if v.has("hg") {
					advised = append(advised, v)
					if len(goHeap([]vma{v})) == 0 {
						t.Errorf("mapping %x-%x %s, not shaped like the heap, is advised huge pages", v.start, v.end, v.perms)
					}
				}
			}
			if tc.huge && len(advised) == 0 {
				t.Errorf("no mapping of barco run is advised huge pages; heap-shaped ones: %+v", goHeap(maps))
			}
			if !tc.huge && len(advised) != 0 {
				t.Errorf("mappings advised huge pages with %v: %+v", tc.env, advised)
			}
		})
	}
}
