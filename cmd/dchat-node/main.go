// Command dchat-node runs one dchat network node on UDP: the protocol of
// core/ over the Noise transport of transport/, configured by a TOML file,
// with its identity and peer store in a data directory and an admin HTTP
// endpoint on loopback (status, metrics, publish, messages).
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
// A bad configuration is reported before anything is created or written.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/dchat/network/chaos"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dchat/network/core/identity"
	"github.com/spf13/cobra"
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(ctx, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "dchat-node: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return 2
	}
	return 1
}

func newRoot(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "dchat-node",
		Short:         "Run and inspect a dchat network node",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ConfigError{Err: err} })
	root.AddCommand(runCmd(stderr), keygenCmd(stdout), idCmd(stdout), configCmd(stdout),
		statusCmd(stdout), peersCmd(stdout), publishCmd(stdout), messagesCmd(stdout), connectCmd(stdout), natCheckCmd(stdout, stderr))
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

// wrapArgs turns argument errors into usage errors.
func wrapArgs(f cobra.PositionalArgs) cobra.PositionalArgs {
	if f == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &ConfigError{Err: err}
		}
		return nil
	}
}

// overrides are the flags of run that override config keys.
type overrides struct {
	config, listen, dataDir, admin, logFormat, logLevel string
	bootstrap                                           []string
	allowRemoteAdmin                                    bool
	chaos                                               string
	enableChaos                                         bool
}

func (o *overrides) addConfigFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.config, "config", "", "TOML configuration file (default: the defaults)")
	c.Flags().StringVar(&o.dataDir, "data-dir", "", "data directory (overrides node.data_dir)")
}

func (o *overrides) addRunFlags(c *cobra.Command) {
	o.addConfigFlags(c)
	f := c.Flags()
	f.StringVar(&o.listen, "listen", "", "UDP listen address (overrides node.listen)")
	f.StringVar(&o.admin, "admin", "", "admin HTTP address (overrides node.admin)")
	f.BoolVar(&o.allowRemoteAdmin, "allow-remote-admin", false, "allow a non-loopback admin address")
	f.StringArrayVar(&o.bootstrap, "bootstrap", nil, "bootstrap peer multiaddr, repeatable (replaces node.bootstrap)")
	f.StringVar(&o.logFormat, "log-format", "", "text or json (overrides node.log_format)")
	f.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error (overrides node.log_level)")
	f.StringVar(&o.chaos, "chaos", "", "TOML file of link faults and clock skew to inject (testing only; needs --enable-chaos)")
	f.BoolVar(&o.enableChaos, "enable-chaos", false, "confirm --chaos: the node will drop, delay, duplicate and corrupt its own traffic")
}

// load reads the config file (if any), applies the flags and validates.
// It touches nothing on disk but the config file it reads.
func (o *overrides) load(c *cobra.Command) (Config, error) {
	cfg := DefaultConfig()
	if o.config != "" {
		doc, err := os.ReadFile(o.config)
		if err != nil {
			return Config{}, &ConfigError{Err: err}
		}
		if cfg, err = ParseConfig(o.config, doc); err != nil {
			return Config{}, err
		}
	}
	f := c.Flags()
	set := func(name string) bool { return f.Lookup(name) != nil && f.Changed(name) }
	addr := func(flag, v string, dst *netip.AddrPort) error {
		a, err := netip.ParseAddrPort(v)
		if err != nil {
			return configErr("--%s: %v", flag, err)
		}
		*dst = a
		return nil
	}
	if set("listen") {
		if err := addr("listen", o.listen, &cfg.Node.Listen); err != nil {
			return Config{}, err
		}
	}
	if set("admin") {
		if err := addr("admin", o.admin, &cfg.Node.Admin); err != nil {
			return Config{}, err
		}
	}
	if set("data-dir") {
		cfg.Node.DataDir = o.dataDir
	}
	if set("allow-remote-admin") {
		cfg.Node.AllowRemoteAdmin = o.allowRemoteAdmin
	}
	if set("log-format") {
		cfg.Node.LogFormat = o.logFormat
	}
	if set("log-level") {
		cfg.Node.LogLevel = o.logLevel
	}
	if set("bootstrap") {
		cfg.Node.Bootstrap = nil
		for _, s := range o.bootstrap {
			m, err := ParseMultiaddr(s)
			if err != nil {
				return Config{}, configErr("--bootstrap: %v", err)
			}
			cfg.Node.Bootstrap = append(cfg.Node.Bootstrap, m)
		}
	}
	switch {
	case set("chaos") && !o.enableChaos:
		return Config{}, configErr("--chaos makes the node drop, delay, duplicate and corrupt its own traffic; add --enable-chaos to confirm")
	case o.enableChaos && !set("chaos"):
		return Config{}, configErr("--enable-chaos without --chaos FILE")
	case set("chaos"):
		cc, err := chaos.Load(o.chaos)
		if err != nil {
			return Config{}, &ConfigError{Err: err}
		}
		cfg.Chaos = cc
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, configErr("%v", err)
	}
	return cfg, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

func newLogger(cfg NodeConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run runs a node with a validated configuration until ctx ends. ready, if
// set, is called once the node is bound (tests learn its addresses).
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ready func(*Node)) error {
	n, err := StartNode(cfg, logger)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(n)
	}
	return n.Serve(ctx)
}

func runCmd(stderr io.Writer) *cobra.Command {
	var o overrides
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the node until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.load(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg, newLogger(cfg.Node, stderr), nil)
		},
	}
	o.addRunFlags(c)
	return c
}

func keygenCmd(stdout io.Writer) *cobra.Command {
	return identityCmd(stdout, "keygen", "Create the identity key in the data directory and print its peer ID", createIdentity)
}

func idCmd(stdout io.Writer) *cobra.Command {
	return identityCmd(stdout, "id", "Print the peer ID of the data directory's identity key", loadIdentity)
}

// identityCmd is a command that gets the data directory's identity with
// get (creating or loading it) and prints its peer ID.
func identityCmd(stdout io.Writer, use, short string, get func(dir string) (*identity.Identity, error)) *cobra.Command {
	var o overrides
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.load(c)
			if err != nil {
				return err
			}
			id, err := get(cfg.Node.DataDir)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, id.ID())
			return nil
		},
	}
	o.addConfigFlags(c)
	return c
}

func configCmd(stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Configuration helpers"}
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a commented configuration with every default",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(stdout, exampleConfig())
			return err
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Decode and validate a configuration file",
		Args:  wrapArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return &ConfigError{Err: err}
			}
			if _, err := ParseConfig(args[0], doc); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "ok")
			return nil
		},
	})
	return c
}

// joinArgs is the text of publish.
func joinArgs(args []string) string { return strings.Join(args, " ") }
