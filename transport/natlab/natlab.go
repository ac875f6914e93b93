// Package natlab builds a real NAT lab for tests on one Linux machine
// (shared/NAT-LAB.md): network namespaces for a public side and one or
// more private sites, each a NAT and a private host, joined by veth pairs;
// nftables masquerading in each NAT namespace (port-restricted cone, or
// symmetric with fully random ports); coturn on two public addresses for
// STUN with RFC 5780 (and TURN with long-term credentials); and optionally
// miniupnpd as a site NAT's UPnP IGD.
//
//	[priv] 10.99.0.2 --- 10.99.0.1 [nat] 198.18.0.2 --- 198.18.0.1, .3, .4 [pub]
//
// With Options.Sites, site i is 10.(99-i).0.0/24 behind the WAN address
// SiteWAN(i) (198.18.0.2, .5, .6, ...), all WAN links on one bridge in
// pub. Every address lives in namespaces the lab creates (198.18.0.0/15,
// the benchmarking range, on the public side; 10.x inside), so no
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
	// NAT is the behaviour of the single site's NAT (when Sites is empty).
	NAT NAT
	// TURN runs coturn with long-term credentials (User, Password, Realm)
	// rather than STUN only.
	TURN bool
	// UPnP runs miniupnpd in the single site's NAT namespace (when Sites is
	// empty; coturn answers its STUN check of the WAN address).
	UPnP bool
	// Sites, if set, builds one private site per entry (at most MaxSites)
	// instead of the single site NAT and UPnP describe. Site i has its own
	// NAT and private namespaces, subnet and WAN address (SiteWAN,
	// SiteLAN, SiteHost).
	Sites []SiteOptions
}

// SiteOptions describe one private site: a NAT and a host behind it.
type SiteOptions struct {
	NAT NAT
	// UPnP runs miniupnpd as the site NAT's UPnP IGD.
	UPnP bool
}

// MaxSites bounds Options.Sites.
const MaxSites = 8

// Fixed lab addresses (inside the lab's namespaces only). Site 0 uses
// WANIP, LANIP and PrivIP; site i in general SiteWAN(i), SiteLAN(i) and
// SiteHost(i).
var (
	PubIP    = netip.MustParseAddr("198.18.0.1") // coturn's primary address
	PubIP2   = netip.MustParseAddr("198.18.0.3") // coturn's other address (RFC 5780)
	PeerIP   = netip.MustParseAddr("198.18.0.4") // for public peers (a rendezvous)
	WANIP    = netip.MustParseAddr("198.18.0.2") // site 0's NAT's public address
	LANIP    = netip.MustParseAddr("10.99.0.1")  // site 0's NAT's private address
	PrivIP   = netip.MustParseAddr("10.99.0.2")  // site 0's private host
	STUNPort = uint16(3478)
)

// SiteWAN is site i's NAT's public address: 198.18.0.2 for site 0, then
// 198.18.0.5, .6, ... (198.18.0.1, .3 and .4 are the public side's).
func SiteWAN(i int) netip.Addr {
	if i == 0 {
		return WANIP
	}
	return netip.AddrFrom4([4]byte{198, 18, 0, byte(4 + i)})
}

// SiteLAN is site i's NAT's private address: 10.(99-i).0.1.
func SiteLAN(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(99 - i), 0, 1}) }

// SiteHost is site i's private host: 10.(99-i).0.2.
func SiteHost(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(99 - i), 0, 2}) }

// Lab credentials for coturn's long-term mechanism.
const (
	User     = "u"
	Password = "p"
	Realm    = "lab"
)

// Site is one private site of a running lab.
type Site struct {
	// NAT and Priv are the namespace names.
	NAT, Priv string
	// Behaviour is the NAT's behaviour.
	Behaviour NAT
	// WAN and LAN are the NAT's addresses, Host the private host's.
	WAN, LAN, Host netip.Addr
	// UPnPURL is miniupnpd's root description (with SiteOptions.UPnP).
	UPnPURL string
}

// Lab is a running lab.
type Lab struct {
	t testing.TB
	// Namespace names: the public side, and site 0's NAT and private host.
	Pub, NAT, Priv string
	// Sites are the private sites (one unless Options.Sites said more).
	Sites []*Site
	// STUN is coturn's primary address (also the TURN server).
	STUN netip.AddrPort
	// UPnPURL is site 0's miniupnpd root description (with UPnP).
	UPnPURL string

	id       string
	dir      string
	procs    []*exec.Cmd
	logNames []string // daemon log names
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
//
//	[priv0] 10.99.0.2 --- 10.99.0.1 [nat0] 198.18.0.2 ---+
//	[priv1] 10.98.0.2 --- 10.98.0.1 [nat1] 198.18.0.5 ---+- bridge [pub] 198.18.0.1, .3, .4
//	...                                                  |
//
// The public namespace joins the sites' WAN links on a bridge, so every
// NAT and every public address share one 198.18.0.0/24 segment.
func New(t testing.TB, opt Options) *Lab {
	t.Helper()
	Require(t)
	sites := opt.Sites
	if len(sites) == 0 {
		sites = []SiteOptions{{NAT: opt.NAT, UPnP: opt.UPnP}}
	}
	if len(sites) > MaxSites {
		t.Fatalf("natlab: %d sites, at most %d", len(sites), MaxSites)
	}
	id := fmt.Sprintf("dcl%d-%d", os.Getpid(), seq.Add(1))
	l := &Lab{t: t, id: id, Pub: id + "-pub", STUN: netip.AddrPortFrom(PubIP, STUNPort), dir: t.TempDir()}
	t.Cleanup(l.cleanup)
	l.must("ip", "netns", "add", l.Pub)
	l.must("ip", "-n", l.Pub, "link", "add", "name", "br0", "type", "bridge")
	for _, a := range []netip.Addr{PubIP, PubIP2, PeerIP} {
		l.must("ip", "-n", l.Pub, "addr", "add", a.String()+"/24", "dev", "br0")
	}
	l.must("ip", "-n", l.Pub, "link", "set", "lo", "up")
	l.must("ip", "-n", l.Pub, "link", "set", "br0", "up")
	for i, so := range sites {
		l.addSite(i, so)
	}
	l.NAT, l.Priv, l.UPnPURL = l.Sites[0].NAT, l.Sites[0].Priv, l.Sites[0].UPnPURL

	args := []string{"-c", "/dev/null", "-n", "-L", PubIP.String(), "-L", PubIP2.String(),
		"-p", fmt.Sprint(STUNPort), "--alt-listening-port", fmt.Sprint(STUNPort + 1),
		"--no-cli", "--no-tls", "--no-dtls", "--log-file", "stdout",
		"--pidfile", filepath.Join(l.dir, "turnserver.pid"), "--userdb", filepath.Join(l.dir, "turndb")}
	if opt.TURN {
		args = append(args, "--lt-cred-mech", "--user", User+":"+Password, "--realm", Realm)
	} else {
		args = append(args, "--stun-only")
	}
	l.daemon(l.Pub, "turnserver", "turnserver", args...)
	l.waitListening(l.Pub, "-uln", netip.AddrPortFrom(PubIP2, STUNPort+1).String())
	l.waitListening(l.Pub, "-uln", l.STUN.String())

	for i, so := range sites {
		if so.UPnP {
			l.startUPnP(i, l.Sites[i])
		}
	}
	if l.Sites[0].UPnPURL != "" {
		l.UPnPURL = l.Sites[0].UPnPURL
	}
	return l
}

// addSite builds site i: its NAT and private namespaces, the veth pairs
// (the WAN link's public end on pub's bridge) and the NAT's rules.
func (l *Lab) addSite(i int, so SiteOptions) {
	l.t.Helper()
	s := &Site{NAT: fmt.Sprintf("%s-nat%d", l.id, i), Priv: fmt.Sprintf("%s-priv%d", l.id, i),
		Behaviour: so.NAT, WAN: SiteWAN(i), LAN: SiteLAN(i), Host: SiteHost(i)}
	if i == 0 {
		s.NAT, s.Priv = l.id+"-nat", l.id+"-priv" // the single-site names
	}
	l.Sites = append(l.Sites, s)
	for _, ns := range []string{s.NAT, s.Priv} {
		l.must("ip", "netns", "add", ns)
	}
	ext := fmt.Sprintf("ext%d", i)
	l.must("ip", "-n", s.NAT, "link", "add", "wan", "type", "veth", "peer", "name", ext, "netns", l.Pub)
	l.must("ip", "-n", l.Pub, "link", "set", ext, "master", "br0")
	l.must("ip", "-n", s.NAT, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", s.Priv)
	l.must("ip", "-n", s.NAT, "addr", "add", s.WAN.String()+"/24", "dev", "wan")
	l.must("ip", "-n", s.NAT, "addr", "add", s.LAN.String()+"/24", "dev", "lan")
	l.must("ip", "-n", s.Priv, "addr", "add", s.Host.String()+"/24", "dev", "eth0")
	for _, ll := range []struct{ ns, link string }{{l.Pub, ext}, {s.NAT, "lo"}, {s.NAT, "wan"}, {s.NAT, "lan"}, {s.Priv, "lo"}, {s.Priv, "eth0"}} {
		l.must("ip", "-n", ll.ns, "link", "set", ll.link, "up")
	}
	l.must("ip", "-n", s.Priv, "route", "add", "default", "via", s.LAN.String())
	l.must("ip", "netns", "exec", s.NAT, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.nft(i, s, so)
}

// startUPnP runs miniupnpd as site i's gateway.
func (l *Lab) startUPnP(i int, s *Site) {
	l.t.Helper()
	conf := filepath.Join(l.dir, fmt.Sprintf("miniupnpd%d.conf", i))
	subnet := netip.PrefixFrom(s.LAN, 24).Masked()
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`ext_ifname=wan
listening_ip=lan
port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=no
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6b5d%04x
ext_perform_stun=yes
ext_stun_host=%s
ext_stun_port=%d
allow 1024-65535 %s 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`, i+1, PubIP, STUNPort, subnet)), 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	name := "miniupnpd"
	if i > 0 {
		name = fmt.Sprintf("miniupnpd%d", i)
	}
	l.daemon(s.NAT, name, "miniupnpd", "-f", conf, "-d", "-P", filepath.Join(l.dir, name+".pid"))
	l.waitListening(s.NAT, "-tln", ":5000") // on 0.0.0.0 or the LAN address
	s.UPnPURL = fmt.Sprintf("http://%s:5000/rootDesc.xml", s.LAN)
}

// nft installs site s's NAT rules (and miniupnpd's chains).
func (l *Lab) nft(i int, s *Site, so SiteOptions) {
	masq := "masquerade"
	if so.NAT == Symmetric {
		masq = "masquerade random,fully-random"
	}
	// The input chain drops what arrives unasked on the WAN for the NAT
	// box itself, as a home gateway's firewall does. Without it Linux
	// conntrack records each such packet (a hole-punching probe that beat
	// the box's own outbound one, say) as a flow to the box, and the
	// masquerade of the host's outbound packet to the same peer, whose
	// reply tuple it would reuse, then takes another external port: the
	// box would behave as symmetric exactly when punching. A packet
	// dropped before conntrack confirms it leaves no entry. (This also
	// keeps RFC 5780 filtering-test answers, which the NAT drops, from
	// reserving tuples.) Packets for a socket of the box itself are let
	// in: miniupnpd's STUN check of its WAN address (CHANGE-REQUEST
	// answers from coturn's other address and port) needs them.
	rules := `table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "wan" ` + masq + `
	}
}
table ip gateway {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "wan" ct state new socket transparent 0 accept
		iifname "wan" ct state new drop
	}
}
`
	if so.UPnP {
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
	file := filepath.Join(l.dir, fmt.Sprintf("nat%d.nft", i))
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.must("ip", "netns", "exec", s.NAT, "nft", "-f", file)
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
// directory as logName.log; cleanup kills it by PID.
func (l *Lab) daemon(ns, logName, name string, args ...string) {
	l.t.Helper()
	l.logNames = append(l.logNames, logName)
	log, err := os.Create(filepath.Join(l.dir, logName+".log"))
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
	for _, name := range l.logNames {
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
	for _, s := range l.Sites {
		for _, ns := range []string{s.Priv, s.NAT} {
			exec.Command("ip", "netns", "del", ns).Run() // absent if setup failed early
		}
	}
	exec.Command("ip", "netns", "del", l.Pub).Run()
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
