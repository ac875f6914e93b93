package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one dchat-node process.
type proc struct {
	cmd       *exec.Cmd
	admin     string
	multiaddr string
	dir       string
}

// startProc starts `dchat-node run` with JSON logs and reads its "node
// running" line for the addresses.
func startProc(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run", "--data-dir", dir, "--admin", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, dir: dir}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Admin, Multiaddr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "node running" {
				p.admin, p.multiaddr = line.Admin, line.Multiaddr
				found <- nil
				for sc.Scan() { // drain
				}
				return
			}
		}
		found <- errors.New("no \"node running\" line")
	}()
	select {
	case err := <-found:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node did not start")
	}
	return p
}

// TestProcesses builds the binary and runs ten node processes on
// 127.0.0.1-10, driving them with the binary's own client commands: they
// join through the first, a message published through one reaches all, and
// a node stopped with SIGTERM and started again without bootstrap peers
// rejoins from its saved peer store and receives later messages.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	const n, restarted = 10, 4
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "dchat-node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("dchat-node %v: %v", args, err)
		}
		return string(out)
	}
	dir := func(i int) string { return filepath.Join(tmp, fmt.Sprintf("n%d", i+1)) }
	listen := func(i int) string { return fmt.Sprintf("127.0.0.%d:0", i+1) }
	id1 := strings.TrimSpace(cli("keygen", "--data-dir", dir(0)))
	p1 := startProc(t, bin, dir(0), "--listen", listen(0))
	if !strings.HasSuffix(p1.multiaddr, "/p2p/"+id1) {
		t.Fatalf("multiaddr %s is not of the generated key %s", p1.multiaddr, id1)
	}
	procs := []*proc{p1}
	for i := 1; i < n; i++ {
		procs = append(procs, startProc(t, bin, dir(i), "--listen", listen(i), "--bootstrap", p1.multiaddr))
	}
	joined := func(ps []*proc) func() bool {
		return func() bool {
			for _, p := range ps {
				var st Status
				if json.Unmarshal([]byte(cli("status", "--admin", p.admin)), &st) != nil || st.RoutingSize < 2 || st.Connections < 1 {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "join", 15*time.Second, joined(procs))
	delivered := func(text string) func() bool {
		return func() bool {
			for _, p := range procs {
				if !strings.Contains(cli("messages", "--admin", p.admin), `"text":"`+text+`"`) {
					return false
				}
			}
			return true
		}
	}
	cli("publish", "--admin", procs[2].admin, "hello", "from", "n3")
	waitFor(t, "delivery", 10*time.Second, delivered("hello from n3"))

	stop := func(i int, p *proc) {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node %d: exit: %v", i+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d did not stop on SIGTERM", i+1)
		}
		if _, err := os.Stat(filepath.Join(p.dir, peerFile)); err != nil {
			t.Errorf("node %d: no peer store: %v", i+1, err)
		}
	}
	// Stop one node and start it again with no bootstrap peers: it rejoins
	// from its saved peers, with the same identity.
	var before Status
	if err := json.Unmarshal([]byte(cli("status", "--admin", procs[restarted].admin)), &before); err != nil {
		t.Fatal(err)
	}
	stop(restarted, procs[restarted])
	procs[restarted] = startProc(t, bin, dir(restarted), "--listen", listen(restarted))
	waitFor(t, "rejoin from the peer store", 15*time.Second, joined(procs[restarted:restarted+1]))
	var after Status
	if err := json.Unmarshal([]byte(cli("status", "--admin", procs[restarted].admin)), &after); err != nil {
		t.Fatal(err)
	}
	if after.Peer != before.Peer {
		t.Fatalf("restarted node changed identity: %s -> %s", before.Peer, after.Peer)
	}
	cli("publish", "--admin", procs[0].admin, "after", "the", "restart")
	waitFor(t, "delivery after the restart", 10*time.Second, delivered("after the restart"))
	for i, p := range procs {
		stop(i, p)
	}
}
