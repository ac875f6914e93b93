package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dchat/network/core/identity"
)

// defaultAdmin is the admin address the client commands use by default
// (the default of node.admin).
var defaultAdmin = DefaultConfig().Node.Admin.String()

// adminCall does one request to a node's admin endpoint and copies the
// answer to out.
func adminCall(admin, method, path string, body []byte, out io.Writer) error {
	return adminCallTimeout(admin, method, path, body, out, 10*time.Second)
}

// adminCallTimeout is adminCall with the request's time limit.
func adminCallTimeout(admin, method, path string, body []byte, out io.Writer, timeout time.Duration) error {
	if _, err := netip.ParseAddrPort(admin); err != nil {
		return configErr("--admin: %v", err)
	}
	req, err := http.NewRequest(method, "http://"+admin+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

func clientCmd(use, short string, args cobra.PositionalArgs,
	call func(admin string, args []string) error) *cobra.Command {
	var admin string
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE:  func(_ *cobra.Command, a []string) error { return call(admin, a) },
	}
	c.Flags().StringVar(&admin, "admin", defaultAdmin, "admin address of the node")
	return c
}

func statusCmd(stdout io.Writer) *cobra.Command {
	return clientCmd("status", "Print a running node's status (JSON)", cobra.NoArgs,
		func(admin string, _ []string) error { return adminCall(admin, "GET", "/status", nil, stdout) })
}

func peersCmd(stdout io.Writer) *cobra.Command {
	return clientCmd("peers", "Print a running node's routing table and connections (JSON)", cobra.NoArgs,
		func(admin string, _ []string) error { return adminCall(admin, "GET", "/peers", nil, stdout) })
}

func publishCmd(stdout io.Writer) *cobra.Command {
	return clientCmd("publish TEXT...", "Publish a message through a running node", cobra.MinimumNArgs(1),
		func(admin string, args []string) error {
			return adminCall(admin, "POST", "/publish", []byte(joinArgs(args)), stdout)
		})
}

func messagesCmd(stdout io.Writer) *cobra.Command {
	return clientCmd("messages", "Print the messages a running node delivered (JSON lines)", cobra.NoArgs,
		func(admin string, _ []string) error { return adminCall(admin, "GET", "/messages", nil, stdout) })
}

func connectCmd(stdout io.Writer) *cobra.Command {
	var wait time.Duration
	c := clientCmd("connect PEER_ID", "Ask a running node for a NAT traversal path to a peer and print it (JSON)",
		cobra.ExactArgs(1), func(admin string, args []string) error {
			if _, err := identity.ParsePeerID(args[0]); err != nil {
				return configErr("peer ID: %v", err)
			}
			if wait < 0 || wait > maxConnectWait {
				return configErr("--wait: want a duration from 0 to %v, got %v", maxConnectWait, wait)
			}
			q := url.Values{"peer": {args[0]}, "wait": {wait.String()}}
			return adminCallTimeout(admin, "POST", "/connect?"+q.Encode(), nil, stdout, wait+10*time.Second)
		})
	c.Long = `connect asks the node's NAT traversal for a path to the peer: a CONNECT
through a rendezvous ([nat] rendezvous), then direct, UPnP, hole-punch and
TURN-relay probes in parallel. The path found is dialled by the connection
manager, so gossip flows over it. connect waits up to --wait for the path
(0: only start the attempt) and exits 1 if the attempt failed or timed out.`
	c.Flags().DurationVar(&wait, "wait", 15*time.Second, "how long to wait for the path (0: do not wait)")
	return c
}
