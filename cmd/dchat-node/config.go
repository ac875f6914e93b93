package main

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/dchat/network/chaos"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
)

// Config is the node's TOML file: [node] for this process, [network] for
// the protocol (core.Config, by its toml tags), [nat] for NAT traversal.
// Omitted keys keep their defaults.
type Config struct {
	Node    NodeConfig
	Network core.Config
	NAT     NATConfig
	// Chaos, set by run --chaos FILE --enable-chaos (never by the config
	// file), injects link faults into the node's outgoing traffic and
	// skews its clock: for testing a real node under faults.
	Chaos *chaos.Config `toml:"-"`
}

// NATConfig is the [nat] table: the servers, gateway and rendezvous NAT
// traversal (core/traversal) uses; nat-check reads it too.
type NATConfig struct {
	// STUNServers answer binding requests (RFC 8489); with two addresses
	// (RFC 5780) they also classify the NAT. IP:port.
	STUNServers []netip.AddrPort `toml:"stun_servers"`
	// TURNServers are relays (RFC 8656) with long-term credentials.
	TURNServers []TURNServerConfig `toml:"turn_servers"`
	// UPnP maps the node's port on the local UPnP IGD gateway.
	UPnP bool `toml:"upnp"`
	// UPnPURL is the gateway's root description
	// (http://192.168.1.1:5000/rootDesc.xml); empty: SSDP discovery.
	UPnPURL string `toml:"upnp_url"`
	// Rendezvous peers coordinate hole punching, as multiaddrs. A node
	// that finds itself listed serves as a rendezvous.
	Rendezvous []Multiaddr `toml:"rendezvous"`
	// ServeRendezvous makes the node a rendezvous for others even when it
	// is not listed in Rendezvous.
	ServeRendezvous bool `toml:"serve_rendezvous"`
	// Relay says when the node allocates a TURN relay of its own: "auto"
	// (when its NAT is symmetric or unknown), "always" or "never".
	Relay string `toml:"relay"`
}

// TURNServerConfig is one [[nat.turn_servers]] entry.
type TURNServerConfig struct {
	Address  netip.AddrPort `toml:"address"`
	Username string         `toml:"username"`
	Password string         `toml:"password"`
	// Realm may be empty: the server's is used.
	Realm string `toml:"realm"`
}

// NodeConfig is the [node] table.
type NodeConfig struct {
	// Listen is the UDP address of the node.
	Listen netip.AddrPort `toml:"listen"`
	// DataDir holds the identity key and the peer store.
	DataDir string `toml:"data_dir"`
	// Admin is the HTTP admin address; it must be a loopback address unless
	// AllowRemoteAdmin is set.
	Admin            netip.AddrPort `toml:"admin"`
	AllowRemoteAdmin bool           `toml:"allow_remote_admin"`
	LogFormat        string         `toml:"log_format"`
	LogLevel         string         `toml:"log_level"`
	// Bootstrap peers as multiaddrs: /ip4/127.0.0.1/udp/9000/p2p/<peer ID>.
	Bootstrap []Multiaddr `toml:"bootstrap"`
	// PeerStoreInterval is the period of the peer store's saves (it is
	// also saved on shutdown).
	PeerStoreInterval duration `toml:"peer_store_interval"`
}

// DefaultConfig returns the defaults of both tables.
func DefaultConfig() Config {
	return Config{
		Node: NodeConfig{
			Listen:            netip.MustParseAddrPort("0.0.0.0:9000"),
			DataDir:           "dchat-data",
			Admin:             netip.MustParseAddrPort("127.0.0.1:9100"),
			LogFormat:         "text",
			LogLevel:          "info",
			Bootstrap:         []Multiaddr{},
			PeerStoreInterval: duration{time.Minute},
		},
		Network: core.DefaultConfig(),
		NAT: NATConfig{
			STUNServers: []netip.AddrPort{},
			TURNServers: []TURNServerConfig{},
			Rendezvous:  []Multiaddr{},
			Relay:       traversal.RelayAuto.String(),
		},
	}
}

// ConfigError is a usage or configuration error (exit code 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// duration is a time.Duration written as a Go duration string ("2s"). It
// is a struct so that a bare integer is refused rather than taken as
// nanoseconds.
type duration struct{ D time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want a string such as \"2s\" or \"1m30s\")", b)
	}
	d.D = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.D.String()), nil }

// Multiaddr is a bootstrap peer: /ip4/A/udp/P/p2p/ID or /ip6/A/udp/P/p2p/ID.
type Multiaddr struct {
	Addr netip.AddrPort
	ID   identity.PeerID
}

// ParseMultiaddr parses a bootstrap peer strictly.
func ParseMultiaddr(s string) (Multiaddr, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 7 || parts[0] != "" || parts[3] != "udp" || parts[5] != "p2p" {
		return Multiaddr{}, fmt.Errorf("bad multiaddr %q: want /ip4/<addr>/udp/<port>/p2p/<peer ID>", s)
	}
	ip, err := netip.ParseAddr(parts[2])
	if err != nil {
		return Multiaddr{}, fmt.Errorf("bad multiaddr %q: %v", s, err)
	}
	switch {
	case parts[1] == "ip4" && ip.Is4():
	case parts[1] == "ip6" && ip.Is6() && !ip.Is4In6() && ip.Zone() == "":
	default:
		return Multiaddr{}, fmt.Errorf("bad multiaddr %q: %q is not an /%s address", s, parts[2], parts[1])
	}
	port, err := strconv.ParseUint(parts[4], 10, 16)
	if err != nil || port == 0 || parts[4] != strconv.FormatUint(port, 10) {
		return Multiaddr{}, fmt.Errorf("bad multiaddr %q: bad udp port %q", s, parts[4])
	}
	id, err := identity.ParsePeerID(parts[6])
	if err != nil {
		return Multiaddr{}, fmt.Errorf("bad multiaddr %q: %v", s, err)
	}
	return Multiaddr{Addr: netip.AddrPortFrom(ip, uint16(port)), ID: id}, nil
}

func (m Multiaddr) String() string {
	proto := "ip4"
	if m.Addr.Addr().Is6() {
		proto = "ip6"
	}
	return fmt.Sprintf("/%s/%s/udp/%d/p2p/%s", proto, m.Addr.Addr(), m.Addr.Port(), m.ID)
}

func (m *Multiaddr) UnmarshalText(b []byte) error {
	v, err := ParseMultiaddr(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

func (m Multiaddr) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

var durationType = reflect.TypeFor[time.Duration]()

// networkShadow is core.Config with every time.Duration field replaced by
// duration, so that [network] takes duration strings and names bad ones.
var networkShadow = func() reflect.Type {
	t := reflect.TypeFor[core.Config]()
	fields := make([]reflect.StructField, t.NumField())
	for i := range fields {
		f := t.Field(i)
		if f.Type == durationType {
			f.Type = reflect.TypeFor[duration]()
		}
		fields[i] = f
	}
	return reflect.StructOf(fields)
}()

// copyFields copies src into dst field by field (same fields, durations
// converted).
func copyFields(dst, src reflect.Value) {
	for i := range dst.NumField() {
		d, s := dst.Field(i), src.Field(i)
		switch {
		case d.Type() == durationType && s.Type() == reflect.TypeFor[duration]():
			d.SetInt(int64(s.Interface().(duration).D))
		case s.Type() == durationType && d.Type() == reflect.TypeFor[duration]():
			d.Set(reflect.ValueOf(duration{time.Duration(s.Int())}))
		default:
			d.Set(s)
		}
	}
}

// fileDoc is what the TOML file decodes into: [node], [network] and
// [nat].
var fileDoc = reflect.StructOf([]reflect.StructField{
	{Name: "Node", Type: reflect.TypeFor[*NodeConfig](), Tag: `toml:"node"`},
	{Name: "Network", Type: reflect.PointerTo(networkShadow), Tag: `toml:"network"`},
	{Name: "NAT", Type: reflect.TypeFor[*NATConfig](), Tag: `toml:"nat"`},
})

// ParseConfig decodes a TOML document strictly over the defaults and
// validates the result. name is the file name used in the errors. Every
// error is a *ConfigError naming the key and, where it has one, the line.
func ParseConfig(name string, doc []byte) (Config, error) {
	cfg := DefaultConfig()
	net := reflect.New(networkShadow)
	copyFields(net.Elem(), reflect.ValueOf(cfg.Network))
	fd := reflect.New(fileDoc)
	fd.Elem().Field(0).Set(reflect.ValueOf(&cfg.Node))
	fd.Elem().Field(1).Set(net)
	fd.Elem().Field(2).Set(reflect.ValueOf(&cfg.NAT))
	dec := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields()
	if err := dec.Decode(fd.Interface()); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict) && len(strict.Errors) > 0:
			e := strict.Errors[0]
			row, col := e.Position()
			return Config{}, configErr("%s:%d:%d: unknown key %q", name, row, col, strings.Join(e.Key(), "."))
		case errors.As(err, &de):
			row, col := de.Position()
			key := strings.Join(de.Key(), ".")
			if key == "" {
				return Config{}, configErr("%s:%d:%d: %s", name, row, col, de.Error())
			}
			return Config{}, configErr("%s:%d:%d: %s: %s", name, row, col, key, de.Error())
		}
		// A bare integer given to a duration is refused by
		// duration.UnmarshalText, an error go-toml does not position.
		if table, key := integerDuration(doc); key != "" {
			return Config{}, configErr("%s:%d: %s.%s: %v", name, lineOf(doc, table, key), table, key, err)
		}
		return Config{}, configErr("%s: %v", name, err)
	}
	copyFields(reflect.ValueOf(&cfg.Network).Elem(), net.Elem())
	if err := cfg.Validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) && ke.entry > 0 {
			key := fmt.Sprintf("%s[%d].%s", ke.table, ke.entry, ke.key)
			if line := entryLine(doc, ke.table, ke.entry, ke.key); line > 0 {
				return Config{}, configErr("%s:%d: %s: %s", name, line, key, ke.msg)
			}
			return Config{}, configErr("%s: %s: %s", name, key, ke.msg)
		}
		if errors.As(err, &ke) {
			if line := lineOf(doc, ke.table, ke.key); line > 0 {
				return Config{}, configErr("%s:%d: %s.%s: %s", name, line, ke.table, ke.key, ke.msg)
			}
			return Config{}, configErr("%s: %s.%s: %s", name, ke.table, ke.key, ke.msg)
		}
		return Config{}, configErr("%s: %v", name, err)
	}
	return cfg, nil
}

// integerDuration finds the first duration key given an integer.
func integerDuration(doc []byte) (table, key string) {
	var m map[string]map[string]any
	if toml.Unmarshal(doc, &m) != nil {
		return "", ""
	}
	for _, tt := range []struct {
		table string
		t     reflect.Type
	}{{"node", reflect.TypeFor[NodeConfig]()}, {"network", networkShadow}} {
		for i := range tt.t.NumField() {
			f := tt.t.Field(i)
			if f.Type != reflect.TypeFor[duration]() {
				continue
			}
			k := f.Tag.Get("toml")
			if _, isInt := m[tt.table][k].(int64); isInt {
				return tt.table, k
			}
		}
	}
	return "", ""
}

// keyError is a validation error of one key (of the entry-th table of an
// array of tables, when entry > 0).
type keyError struct {
	table, key, msg string
	entry           int
}

func (e *keyError) Error() string { return fmt.Sprintf("%s.%s: %s", e.table, e.key, e.msg) }

var coreKeyRE = regexp.MustCompile(`^` + regexp.QuoteMeta(core.ErrConfig.Error()) + `: ([a-z0-9_]+): (.*)$`)

// Validate checks both tables.
func (c Config) Validate() error {
	n := c.Node
	bad := func(key, format string, args ...any) error {
		return &keyError{table: "node", key: key, msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case !n.Listen.IsValid():
		return bad("listen", "not set")
	case n.DataDir == "":
		return bad("data_dir", "not set")
	case !n.Admin.IsValid():
		return bad("admin", "not set")
	case !n.AllowRemoteAdmin && !n.Admin.Addr().IsLoopback():
		return bad("admin", "%v is not a loopback address (set allow_remote_admin = true to expose the admin endpoint)", n.Admin)
	case n.LogFormat != "text" && n.LogFormat != "json":
		return bad("log_format", "want \"text\" or \"json\", got %q", n.LogFormat)
	case n.PeerStoreInterval.D <= 0:
		return bad("peer_store_interval", "must be a positive duration, got %v", n.PeerStoreInterval.D)
	}
	if _, err := parseLevel(n.LogLevel); err != nil {
		return bad("log_level", "%v", err)
	}
	if err := c.Network.Validate(); err != nil {
		if m := coreKeyRE.FindStringSubmatch(err.Error()); m != nil {
			return &keyError{table: "network", key: m[1], msg: m[2]}
		}
		return err
	}
	return c.NAT.validate()
}

// validate checks the [nat] table.
func (n NATConfig) validate() error {
	bad := func(key, format string, args ...any) error {
		return &keyError{table: "nat", key: key, msg: fmt.Sprintf(format, args...)}
	}
	for _, a := range n.STUNServers {
		if a.Port() == 0 || a.Addr().IsUnspecified() {
			return bad("stun_servers", "%v is not a server address (want IP:port)", a)
		}
	}
	for i, s := range n.TURNServers {
		entry := func(key, format string, args ...any) error {
			return &keyError{table: "nat.turn_servers", key: key, msg: fmt.Sprintf(format, args...), entry: i + 1}
		}
		switch {
		case !s.Address.IsValid():
			return entry("address", "not set")
		case s.Address.Port() == 0 || s.Address.Addr().IsUnspecified():
			return entry("address", "%v is not a server address (want IP:port)", s.Address)
		case s.Username == "":
			return entry("username", "not set (TURN needs long-term credentials)")
		case s.Password == "":
			return entry("password", "not set (TURN needs long-term credentials)")
		}
	}
	if n.UPnPURL != "" {
		if u, err := url.Parse(n.UPnPURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("upnp_url", "want the http URL of the gateway's root description, got %q", n.UPnPURL)
		}
	}
	if _, err := traversal.ParseRelayPolicy(n.Relay); err != nil {
		return bad("relay", "want \"auto\", \"always\" or \"never\", got %q", n.Relay)
	}
	return nil
}

// entryLine returns the 1-based line of key in the entry-th [[table]] of
// doc, or of that table's header when the key is absent, or 0.
func entryLine(doc []byte, table string, entry int, key string) int {
	keyRE := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	n, header := 0, 0
	for i, l := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(strings.SplitN(l, "#", 2)[0])
		if strings.HasPrefix(t, "[") {
			if n == entry && header > 0 {
				return header // the entry ended without the key
			}
			if strings.Trim(t, "[] \t") == table && strings.HasPrefix(t, "[[") {
				n++
				if n == entry {
					header = i + 1
				}
			}
			continue
		}
		if n == entry && header > 0 && keyRE.MatchString(l) {
			return i + 1
		}
	}
	if header > 0 {
		return header
	}
	return lineOf(doc, "nat", "turn_servers") // the inline form
}

// lineOf returns the 1-based line of "key =" in [table], or 0.
func lineOf(doc []byte, table, key string) int {
	cur := ""
	keyRE := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, l := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			cur = strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t")
			continue
		}
		if cur == table && keyRE.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// networkComments document the [network] keys in the example.
var networkComments = map[string]string{
	"k_bucket_size":              "Kademlia bucket size (k).",
	"dht_alpha":                  "Parallel requests per lookup step (alpha).",
	"dht_request_timeout":        "Timeout of one DHT request.",
	"dht_refresh_interval":       "Refresh period of a bucket not looked up.",
	"dht_record_ttl":             "Lifetime of a stored DHT record.",
	"gossip_fanout":              "Peers each gossip message is pushed to.",
	"gossip_message_cache_size":  "Message IDs remembered for deduplication.",
	"gossip_message_cache_ttl":   "How long a message ID is remembered.",
	"gossip_max_ttl":             "Largest hop count of a message (at most 32).",
	"gossip_peer_rate":           "Messages per second accepted from one peer.",
	"gossip_peer_burst":          "Burst of messages accepted from one peer.",
	"gossip_global_rate":         "Messages per second accepted from all peers.",
	"max_connections":            "Most connections kept.",
	"target_connections":         "Connections the node tries to hold.",
	"connection_timeout":         "Timeout of a connection attempt.",
	"ping_interval":              "Period of health pings.",
	"ping_timeout":               "Timeout of a health ping (at most ping_interval).",
	"idle_timeout":               "A connection carrying nothing this long is closed.",
	"connection_grace_period":    "New connections are not pruned while younger (0: no grace).",
	"connection_trim_pause":      "Least time between two trims (0: no pause).",
	"pruning_strategy":           "lru, reputation, latency or combined.",
	"reconnect_backoff_base":     "First redial delay to an important peer.",
	"reconnect_backoff_max":      "Longest redial delay.",
	"enable_upnp":                "Map a port on a UPnP gateway.",
	"enable_hole_punching":       "Try UDP hole punching.",
	"enable_relay":               "Relay traffic for other peers.",
	"max_relay_hops":             "Most relay hops (at most 8).",
	"relay_bandwidth_limit_mbps": "Bandwidth given to relaying.",
}

// exampleConfig is the commented default configuration; it decodes back to
// DefaultConfig.
func exampleConfig() string {
	d := DefaultConfig()
	var b strings.Builder
	b.WriteString(`# dchat-node configuration. Every key is optional: an omitted key keeps
# the default shown here. Unknown keys are errors. Durations are Go
# duration strings ("500ms", "2s", "1h30m").

[node]
# UDP address the node listens on (port 0 picks a free port).
listen = "` + d.Node.Listen.String() + `"
# Directory of the identity key (identity.key) and the peer store (peers.json).
data_dir = "` + d.Node.DataDir + `"
# HTTP admin endpoint (/status, /metrics, /peers, /publish, /messages, /connect).
admin = "` + d.Node.Admin.String() + `"
# The admin endpoint must be on loopback unless this is true.
allow_remote_admin = false
# Log format ("text" or "json") and level ("debug", "info", "warn", "error").
log_format = "` + d.Node.LogFormat + `"
log_level = "` + d.Node.LogLevel + `"
# Bootstrap peers, as /ip4/<addr>/udp/<port>/p2p/<peer ID> (or /ip6/...).
# The peers saved in the peer store are tried as well.
bootstrap = []
# Period of the peer store's saves (it is also saved on shutdown).
peer_store_interval = "` + d.Node.PeerStoreInterval.D.String() + `"

[nat]
# STUN servers (IP:port) for the public address and, where the server has
# two addresses (RFC 5780), the NAT type.
stun_servers = []
# TURN relays (RFC 8656), each a [[nat.turn_servers]] table with address,
# username, password and (optional) realm.
turn_servers = []
# Map the node's port on the local UPnP gateway.
upnp = false
# The gateway's root description URL; empty: find it by SSDP.
upnp_url = ""
# Rendezvous peers for hole punching, as /ip4/<addr>/udp/<port>/p2p/<peer ID>.
# A node that finds its own peer ID here serves as a rendezvous.
rendezvous = []
# Serve as a rendezvous for other nodes even when not listed above.
serve_rendezvous = false
# When to allocate a TURN relay of our own: "auto" (symmetric or unknown
# NAT), "always" or "never".
relay = "` + d.NAT.Relay + `"

[network]
`)
	v := reflect.ValueOf(d.Network)
	t := v.Type()
	for i := range t.NumField() {
		key := t.Field(i).Tag.Get("toml")
		if c := networkComments[key]; c != "" {
			fmt.Fprintf(&b, "# %s\n", c)
		}
		fmt.Fprintf(&b, "%s = %s\n", key, tomlValue(v.Field(i)))
	}
	return b.String()
}

func tomlValue(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return strconv.Quote(time.Duration(v.Int()).String())
	case v.Kind() == reflect.String:
		return strconv.Quote(v.String())
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case v.CanInt():
		return strconv.FormatInt(v.Int(), 10)
	case v.CanUint():
		return strconv.FormatUint(v.Uint(), 10)
	case v.CanFloat():
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	}
	panic(fmt.Sprintf("dchat-node: no TOML form for %v", v.Type()))
}
