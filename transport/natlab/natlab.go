// Package natlab builds a real NAT lab for tests on one Linux machine
// (shared/NAT-LAB.md): network namespaces for a public side, a NAT and a
// private host, joined by veth pairs; nftables masquerading in the NAT
// namespace (port-restricted cone, or symmetric with fully random ports);
// coturn on two public addresses for STUN with RFC 5780 (and TURN with
// long-term credentials); and optionally miniupnpd as the NAT's UPnP IGD.
//
//	[priv] 10.99.0.2 --- 10.99.0.1 [nat] 198.18.0.2 --- 198.18.0.1, .3, .4 [pub]
//
// Every address lives in namespaces the lab creates (198.18.0.0/15, the
// benchmarking range, on the public side; 10.99.0.0/24 inside), so no
// traffic leaves them. Namespace names are unique per lab; New registers
// a cleanup (t.Cleanup) that kills the daemons by PID and deletes the
// namespaces, also when the test fails.
//
// Go code runs inside a namespace as a subprocess: Helper re-executes the
// test binary under `ip netns exec`, and the test's TestMain hands control
// to Main, which runs the named helper function instead of the tests.
//
// Concurrency: a Lab is used from its test's goroutine.
package natlab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// NAT is the behaviour of the lab's NAT.
type NAT int

// NAT behaviours (NAT-LAB.md: measured with nftables).
const (
	// PortRestricted: `masquerade`, endpoint-independent mapping and
	// address-and-port-dependent filtering.
	PortRestricted NAT = iota
	// Symmetric: `masquerade random,fully-random`, a new external port per
	// destination.
	Symmetric
)

func (n NAT) String() string {
	if n == Symmetric {
		return "symmetric"
	}
	return "port-restricted"
}

// Options choose the lab's parts.
type Options struct {
	NAT NAT
	// TURN runs coturn with long-term credentials (User, Password, Realm)
	// rather than STUN only.
	TURN bool
	// UPnP runs miniupnpd in the NAT namespace (coturn answers its STUN
	// check of the WAN address).
	UPnP bool
}

// Fixed lab addresses (inside the lab's namespaces only).
var (
	PubIP    = netip.MustParseAddr("198.18.0.1") // coturn's primary address
	PubIP2   = netip.MustParseAddr("198.18.0.3") // coturn's other address (RFC 5780)
	PeerIP   = netip.MustParseAddr("198.18.0.4") // for public peers
	WANIP    = netip.MustParseAddr("198.18.0.2") // the NAT's public address
	LANIP    = netip.MustParseAddr("10.99.0.1")  // the NAT's private address
	PrivIP   = netip.MustParseAddr("10.99.0.2")  // the private host
	STUNPort = uint16(3478)
)

// Lab credentials for coturn's long-term mechanism.
const (
	User     = "u"
	Password = "p"
	Realm    = "lab"
)

// Lab is a running lab.
type Lab struct {
	t testing.TB
	// Namespace names.
	Pub, NAT, Priv string
	// STUN is coturn's primary address (also the TURN server).
	STUN netip.AddrPort
	// UPnPURL is miniupnpd's root description (with Options.UPnP).
	UPnPURL string

	dir   string
	procs []*exec.Cmd
}

// Tools are the commands a lab needs.
var Tools = []string{"ip", "nft", "turnserver", "miniupnpd", "upnpc"}

// Require skips t unless the lab can run: root, and the Tools on PATH.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("natlab: needs root (network namespaces, nftables)")
	}
	for _, tool := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("natlab: %s not installed (apt-get install iproute2 nftables coturn miniupnpd miniupnpc)", tool)
		}
	}
}

var seq atomic.Int64

// New builds a lab, or skips t where it cannot run (Require).
func New(t testing.TB, opt Options) *Lab {
	t.Helper()
	Require(t)
	id := fmt.Sprintf("dcl%d-%d", os.Getpid(), seq.Add(1))
	l := &Lab{t: t, Pub: id + "-pub", NAT: id + "-nat", Priv: id + "-priv",
		STUN: netip.AddrPortFrom(PubIP, STUNPort), dir: t.TempDir()}
	t.Cleanup(l.cleanup)
	for _, ns := range []string{l.Pub, l.NAT, l.Priv} {
		l.must("ip", "netns", "add", ns)
	}
	l.must("ip", "-n", l.NAT, "link", "add", "wan", "type", "veth", "peer", "name", "ext", "netns", l.Pub)
	l.must("ip", "-n", l.NAT, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", l.Priv)
	for _, a := range []netip.Addr{PubIP, PubIP2, PeerIP} {
		l.must("ip", "-n", l.Pub, "addr", "add", a.String()+"/24", "dev", "ext")
	}
	l.must("ip", "-n", l.NAT, "addr", "add", WANIP.String()+"/24", "dev", "wan")
	l.must("ip", "-n", l.NAT, "addr", "add", LANIP.String()+"/24", "dev", "lan")
	l.must("ip", "-n", l.Priv, "addr", "add", PrivIP.String()+"/24", "dev", "eth0")
	for ns, links := range map[string][]string{l.Pub: {"lo", "ext"}, l.NAT: {"lo", "wan", "lan"}, l.Priv: {"lo", "eth0"}} {
		for _, link := range links {
			l.must("ip", "-n", ns, "link", "set", link, "up")
		}
	}
	l.must("ip", "-n", l.Priv, "route", "add", "default", "via", LANIP.String())
	l.must("ip", "netns", "exec", l.NAT, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.nft(opt)

	args := []string{"-c", "/dev/null", "-n", "-L", PubIP.String(), "-L", PubIP2.String(),
		"-p", fmt.Sprint(STUNPort), "--alt-listening-port", fmt.Sprint(STUNPort + 1),
		"--no-cli", "--no-tls", "--no-dtls", "--log-file", "stdout",
		"--pidfile", filepath.Join(l.dir, "turnserver.pid"), "--userdb", filepath.Join(l.dir, "turndb")}
	if opt.TURN {
		args = append(args, "--lt-cred-mech", "--user", User+":"+Password, "--realm", Realm)
	} else {
		args = append(args, "--stun-only")
	}
	l.daemon(l.Pub, "turnserver", args...)
	l.waitListening(l.Pub, "-uln", netip.AddrPortFrom(PubIP2, STUNPort+1).String())
	l.waitListening(l.Pub, "-uln", l.STUN.String())

	if opt.UPnP {
		conf := filepath.Join(l.dir, "miniupnpd.conf")
		err := os.WriteFile(conf, []byte(fmt.Sprintf(`ext_ifname=wan
listening_ip=lan
port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=no
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6b5d0001
ext_perform_stun=yes
ext_stun_host=%s
ext_stun_port=%d
allow 1024-65535 10.99.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`, PubIP, STUNPort)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		l.daemon(l.NAT, "miniupnpd", "-f", conf, "-d", "-P", filepath.Join(l.dir, "miniupnpd.pid"))
		l.waitListening(l.NAT, "-tln", ":5000") // on 0.0.0.0 or the LAN address
		l.UPnPURL = fmt.Sprintf("http://%s:5000/rootDesc.xml", LANIP)
	}
	return l
}

// nft installs the NAT's rules (and miniupnpd's chains).
func (l *Lab) nft(opt Options) {
	masq := "masquerade"
	if opt.NAT == Symmetric {
		masq = "masquerade random,fully-random"
	}
	rules := `table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "wan" ` + masq + `
	}
}
`
	if opt.UPnP {
		rules += `table inet filter {
	chain miniupnpd { }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
	chain forward {
		type filter hook forward priority 0; policy accept;
		jump miniupnpd
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
	}
}
`
	}
	file := filepath.Join(l.dir, "nat.nft")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.must("ip", "netns", "exec", l.NAT, "nft", "-f", file)
}

// must runs a setup command or fails the test.
func (l *Lab) must(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("natlab: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Run runs a command in namespace ns to completion and returns its
// combined output.
func (l *Lab) Run(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// daemon starts a long-running command in ns, its output in the lab's
// directory; cleanup kills it by PID.
func (l *Lab) daemon(ns, name string, args ...string) {
	l.t.Helper()
	log, err := os.Create(filepath.Join(l.dir, name+".log"))
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		l.t.Fatalf("natlab: start %s: %v", name, err)
	}
	log.Close() // the child has its own descriptor
	l.procs = append(l.procs, cmd)
}

// waitListening waits (up to 5 s) until ss in ns lists a local address
// ending in addr.
func (l *Lab) waitListening(ns, flags, addr string) {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := l.Run(ns, "ss", "-H", flags)
		if strings.Contains(out, addr+" ") {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("natlab: nothing listens on %s in %s:\n%s\n%s", addr, ns, out, l.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logs returns the daemons' output.
func (l *Lab) logs() string {
	var b strings.Builder
	for _, name := range []string{"turnserver", "miniupnpd"} {
		if out, err := os.ReadFile(filepath.Join(l.dir, name+".log")); err == nil {
			fmt.Fprintf(&b, "--- %s.log\n%s\n", name, tail(out, 4000))
		}
	}
	return b.String()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cleanup kills the daemons and deletes the namespaces.
func (l *Lab) cleanup() {
	if l.t.Failed() {
		l.t.Logf("natlab logs:\n%s", l.logs())
	}
	for _, cmd := range l.procs {
		cmd.Process.Kill()
		cmd.Wait()
	}
	for _, ns := range []string{l.Priv, l.NAT, l.Pub} {
		exec.Command("ip", "netns", "del", ns).Run() // absent if setup failed early
	}
}

// helperEnv selects a helper in a re-executed test binary.
const helperEnv = "DCHAT_NATLAB_HELPER"

// Main runs the helper named by the environment (a process that Helper
// started) and exits, or returns when there is none. Call it first in
// TestMain. A helper's exit code is the process's.
func Main(helpers map[string]func(args []string) int) {
	name := os.Getenv(helperEnv)
	if name == "" {
		return
	}
	f := helpers[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "natlab: no helper %q\n", name)
		os.Exit(2)
	}
	os.Exit(f(os.Args[1:]))
}

// Proc is a helper process: lines go to its standard input and come from
// its standard output; its standard error is kept for the test's log.
type Proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr lockedBuffer
	exited chan struct{}
}

// lockedBuffer is a bytes.Buffer written by exec's copier and read by the
// test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

func (b *lockedBuffer) Len() int { return len(b.Bytes()) }

// Helper starts helper name of this test binary in namespace ns (via Main
// in the binary's TestMain). The test's cleanup kills it if it is still
// running.
func (l *Lab) Helper(ns, name string, args ...string) *Proc {
	l.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, exe}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	p := &Proc{t: l.t, name: name, cmd: cmd, lines: make(chan string, 64), exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("natlab: helper %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	l.t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if l.t.Failed() && p.stderr.Len() > 0 {
			l.t.Logf("helper %s stderr:\n%s", name, tail(p.stderr.Bytes(), 4000))
		}
	})
	return p
}

// ErrExited: the helper ended before writing the line asked for.
var ErrExited = errors.New("natlab: helper exited")

// Line returns the helper's next output line, waiting up to timeout.
func (p *Proc) Line(timeout time.Duration) (string, error) {
	select {
	case s, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("%w (%s): %s", ErrExited, p.name, tail(p.stderr.Bytes(), 2000))
		}
		return s, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("natlab: helper %s wrote nothing for %v", p.name, timeout)
	}
}

// Send writes a line to the helper's standard input.
func (p *Proc) Send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// Wait waits up to timeout for the helper to exit and returns its exit
// code (-1 if it did not exit).
func (p *Proc) Wait(timeout time.Duration) int {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}
