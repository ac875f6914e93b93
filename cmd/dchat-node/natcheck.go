package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/transport"
)

// natCheckFlags are nat-check's flags.
type natCheckFlags struct {
	config, listen, stun, turn, turnUser, turnPass, turnRealm, upnpURL string
	upnp, json                                                         bool
	timeout, lease                                                     time.Duration
}

// NATReport is nat-check's result (its --json output).
type NATReport struct {
	Local netip.AddrPort `json:"local"`
	STUN  *STUNReport    `json:"stun,omitempty"`
	UPnP  *UPnPReport    `json:"upnp,omitempty"`
	TURN  *TURNReport    `json:"turn,omitempty"`
}

// STUNReport is the STUN step: the public address and the RFC 5780
// behaviours.
type STUNReport struct {
	Server    netip.AddrPort `json:"server"`
	Public    netip.AddrPort `json:"public"`
	Mapping   string         `json:"mapping"`
	Filtering string         `json:"filtering"`
	Type      string         `json:"nat_type"`
	Took      time.Duration  `json:"took_ns"`
	Error     string         `json:"error,omitempty"`
}

// UPnPReport is the UPnP step.
type UPnPReport struct {
	Gateway  string         `json:"gateway,omitempty"`
	Service  string         `json:"service,omitempty"`
	External netip.AddrPort `json:"external"`
	Internal netip.AddrPort `json:"internal"`
	Lease    time.Duration  `json:"lease_ns"`
	Took     time.Duration  `json:"took_ns"`
	Error    string         `json:"error,omitempty"`
}

// TURNReport is the TURN step.
type TURNReport struct {
	Server  netip.AddrPort `json:"server"`
	Relayed netip.AddrPort `json:"relayed"`
	Took    time.Duration  `json:"took_ns"`
	Error   string         `json:"error,omitempty"`
}

func natCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var o natCheckFlags
	c := &cobra.Command{
		Use:   "nat-check",
		Short: "Measure this host's NAT: public address and type (STUN), UPnP mapping, TURN relay",
		Long: `nat-check binds a UDP socket (--listen) and runs, in turn, the steps asked
for: STUN behaviour discovery (RFC 8489, RFC 5780) against --stun, a UPnP IGD
port mapping (--upnp, --upnp-url; deleted again when nat-check exits), and a TURN
allocation (RFC 8656) on --turn with long-term credentials. Servers default to
the [nat] table of --config. It exits 1 if a step fails.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runNATCheck(c, &o, stdout, stderr)
		},
	}
	f := c.Flags()
	f.StringVar(&o.config, "config", "", "TOML configuration file whose [nat] table gives the defaults")
	f.StringVar(&o.listen, "listen", "0.0.0.0:0", "UDP address to bind")
	f.StringVar(&o.stun, "stun", "", "STUN server HOST:PORT (default: the first of nat.stun_servers)")
	f.StringVar(&o.turn, "turn", "", "TURN server HOST:PORT (default: the first of nat.turn_servers)")
	f.StringVar(&o.turnUser, "turn-user", "", "TURN username")
	f.StringVar(&o.turnPass, "turn-pass", "", "TURN password")
	f.StringVar(&o.turnRealm, "turn-realm", "", "TURN realm (default: the server's)")
	f.BoolVar(&o.upnp, "upnp", false, "map the port on the UPnP gateway (default: nat.upnp)")
	f.StringVar(&o.upnpURL, "upnp-url", "", "the gateway's root description URL, instead of SSDP (implies --upnp)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of each step")
	f.DurationVar(&o.lease, "lease", 10*time.Minute, "UPnP lease asked for")
	return c
}

// natPlan is what nat-check will do, flags and config combined.
type natPlan struct {
	listen  netip.AddrPort
	stun    netip.AddrPort
	turn    *transport.TURNServer
	upnp    bool
	upnpURL string
}

func (o *natCheckFlags) plan(c *cobra.Command) (natPlan, error) {
	var p natPlan
	nat := DefaultConfig().NAT
	if o.config != "" {
		doc, err := os.ReadFile(o.config)
		if err != nil {
			return p, &ConfigError{Err: err}
		}
		cfg, err := ParseConfig(o.config, doc)
		if err != nil {
			return p, err
		}
		nat = cfg.NAT
	}
	set := c.Flags().Changed
	var err error
	if p.listen, err = netip.ParseAddrPort(o.listen); err != nil {
		return p, configErr("--listen: %v", err)
	}
	switch {
	case set("stun"):
		if p.stun, err = resolve(c.Context(), o.stun); err != nil {
			return p, configErr("--stun: %v", err)
		}
	case len(nat.STUNServers) > 0:
		p.stun = nat.STUNServers[0]
	}
	switch {
	case set("turn"):
		a, err := resolve(c.Context(), o.turn)
		if err != nil {
			return p, configErr("--turn: %v", err)
		}
		p.turn = &transport.TURNServer{Addr: a, Username: o.turnUser, Password: o.turnPass, Realm: o.turnRealm}
		if o.turnUser == "" || o.turnPass == "" {
			return p, configErr("--turn needs --turn-user and --turn-pass")
		}
	case len(nat.TURNServers) > 0:
		s := nat.TURNServers[0]
		p.turn = &transport.TURNServer{Addr: s.Address, Username: s.Username, Password: s.Password, Realm: s.Realm}
	}
	p.upnp, p.upnpURL = nat.UPnP, nat.UPnPURL
	if set("upnp") {
		p.upnp = o.upnp
	}
	if set("upnp-url") {
		p.upnp, p.upnpURL = true, o.upnpURL
	}
	if !p.stun.IsValid() && p.turn == nil && !p.upnp {
		return p, configErr("nothing to check: give --stun, --turn or --upnp (or a --config with a [nat] table)")
	}
	if o.timeout <= 0 {
		return p, configErr("--timeout must be positive")
	}
	return p, nil
}

// resolve parses HOST:PORT, looking the host up if it is a name.
func resolve(ctx context.Context, s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddrPort(s); err == nil {
		return a, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ua, err := (&net.Resolver{}).LookupNetIP(ctx, "ip4", host)
	if err != nil || len(ua) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %q: %v", host, err)
	}
	pa, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", port))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ua[0].Unmap(), pa.Port()), nil
}

func runNATCheck(c *cobra.Command, o *natCheckFlags, stdout, stderr io.Writer) error {
	p, err := o.plan(c)
	if err != nil {
		return err
	}
	cfg := transport.DefaultConfig()
	cfg.Listen = p.listen
	cfg.UPnPURL = p.upnpURL
	cfg.UPnPTimeout = o.timeout
	cfg.TURNTimeout = o.timeout
	if p.turn != nil {
		cfg.TURNServers = []transport.TURNServer{*p.turn}
	}
	if err := cfg.Validate(); err != nil {
		return configErr("%v", err)
	}
	id, err := identity.Generate(crand.Reader)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := transport.New(cfg, id, nil, logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.Context())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	defer func() {
		cancel() // the host deletes its UPnP mapping and releases the relay
		<-ran
	}()

	rep := NATReport{Local: h.LocalAddr()}
	var failed []string
	if p.stun.IsValid() {
		r, err := step(c.Context(), h, o.timeout, func(conn core.Connectivity, done func(core.MappingResult)) {
			conn.QueryMapping(p.stun, true, done)
		})
		if err == nil {
			err = r.Err
		}
		rep.STUN = &STUNReport{Server: p.stun, Public: r.Public, Mapping: r.Mapping.String(),
			Filtering: r.Filtering.String(), Type: r.Type.String(), Took: r.Took, Error: errText(err)}
		if err != nil && !(errors.Is(err, transport.ErrNoOtherAddress) && r.Public.IsValid()) {
			failed = append(failed, "stun: "+err.Error())
		}
	}
	if p.upnp {
		r, err := step(c.Context(), h, o.timeout, func(conn core.Connectivity, done func(core.PortMapping)) {
			conn.MapPort(o.lease, done)
		})
		if err == nil {
			err = r.Err
		}
		rep.UPnP = &UPnPReport{External: r.External, Lease: r.Lease, Took: r.Took, Error: errText(err)}
		if err == nil {
			dctx, dcancel := context.WithTimeout(c.Context(), o.timeout)
			h.Do(dctx, func(time.Time) {
				if info, ok := h.PortMap(); ok {
					rep.UPnP.Gateway, rep.UPnP.Service, rep.UPnP.Internal = info.Gateway, info.Service, info.Internal
				}
			})
			dcancel()
		} else {
			failed = append(failed, "upnp: "+err.Error())
		}
	}
	if p.turn != nil {
		r, err := step(c.Context(), h, o.timeout, func(conn core.Connectivity, done func(core.RelayAllocation)) {
			conn.AllocateRelay(p.turn.Addr, done)
		})
		if err == nil {
			err = r.Err
		}
		rep.TURN = &TURNReport{Server: p.turn.Addr, Relayed: r.Relayed, Took: r.Took, Error: errText(err)}
		if err != nil {
			failed = append(failed, "turn: "+err.Error())
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printNATReport(stdout, &rep)
	}
	if len(failed) > 0 {
		return fmt.Errorf("nat-check failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// step runs one connectivity operation on the host's loop and waits for
// its result, at most timeout (plus a margin for the operation's own).
func step[R any](ctx context.Context, h *transport.Host, timeout time.Duration, start func(core.Connectivity, func(R))) (R, error) {
	var zero R
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	ch := make(chan R, 1)
	if err := h.Do(ctx, func(time.Time) { start(h.Env().Connectivity, func(r R) { ch <- r }) }); err != nil {
		return zero, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("no result within %v", timeout)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

// printNATReport writes the human-readable report.
func printNATReport(w io.Writer, r *NATReport) {
	fmt.Fprintf(w, "local address:   %v\n", r.Local)
	if s := r.STUN; s != nil {
		fmt.Fprintf(w, "stun server:     %v (took %s)\n", s.Server, ms(s.Took))
		if s.Public.IsValid() {
			fmt.Fprintf(w, "public address:  %v\n", s.Public)
		}
		fmt.Fprintf(w, "mapping:         %s\n", s.Mapping)
		fmt.Fprintf(w, "filtering:       %s\n", s.Filtering)
		fmt.Fprintf(w, "nat type:        %s\n", s.Type)
		if s.Error != "" {
			fmt.Fprintf(w, "stun error:      %s\n", s.Error)
		}
	}
	if u := r.UPnP; u != nil {
		if u.Error != "" {
			fmt.Fprintf(w, "upnp:            failed after %s: %s\n", ms(u.Took), u.Error)
		} else {
			lease := u.Lease.String()
			if u.Lease == 0 {
				lease = "permanent"
			}
			fmt.Fprintf(w, "upnp gateway:    %s (%s)\n", u.Gateway, u.Service)
			fmt.Fprintf(w, "upnp mapping:    %v -> %v, lease %s (took %s; deleted on exit)\n", u.External, u.Internal, lease, ms(u.Took))
		}
	}
	if t := r.TURN; t != nil {
		if t.Error != "" {
			fmt.Fprintf(w, "turn:            %v failed after %s: %s\n", t.Server, ms(t.Took), t.Error)
		} else {
			fmt.Fprintf(w, "turn relay:      %v on %v (took %s)\n", t.Relayed, t.Server, ms(t.Took))
		}
	}
}
