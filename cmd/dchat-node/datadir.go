package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/dchat/network/core/identity"
)

const (
	keyFile  = "identity.key"
	peerFile = "peers.json"
)

// writeAtomic writes b to path through a temporary file in the same
// directory: write, fsync, rename, fsync the directory.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ensureDataDir creates the data directory (0700) if it is missing.
func ensureDataDir(dir string) error {
	return os.MkdirAll(dir, 0o700)
}

// errNoKey: the data directory has no identity key.
var errNoKey = errors.New("no identity key")

// loadIdentity reads the identity key of dir: the hex Ed25519 seed.
func loadIdentity(dir string) (*identity.Identity, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, errNoKey)
	}
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a hex seed: %v", path, err)
	}
	id, err := identity.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return id, nil
}

// createIdentity generates a key and writes it to dir (mode 0600). It
// refuses to replace an existing key.
func createIdentity(dir string) (*identity.Identity, error) {
	path := filepath.Join(dir, keyFile)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s exists: refusing to replace an identity key", path)
	}
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := ensureDataDir(dir); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, []byte(hex.EncodeToString(id.Seed())+"\n"), 0o600); err != nil {
		return nil, err
	}
	return id, nil
}

// loadOrCreateIdentity loads dir's key, creating it on first run.
func loadOrCreateIdentity(dir string) (id *identity.Identity, created bool, err error) {
	id, err = loadIdentity(dir)
	if errors.Is(err, errNoKey) {
		id, err = createIdentity(dir)
		return id, err == nil, err
	}
	return id, false, err
}

// storedPeer is one entry of the peer store.
type storedPeer struct {
	ID   identity.PeerID `json:"id"`
	Addr netip.AddrPort  `json:"addr"`
}

// loadPeers reads the peer store (a missing file is an empty store).
func loadPeers(dir string) ([]storedPeer, error) {
	path := filepath.Join(dir, peerFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []storedPeer
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return ps, nil
}

// savePeers replaces the peer store.
func savePeers(dir string, ps []storedPeer) error {
	if ps == nil {
		ps = []storedPeer{}
	}
	b, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, peerFile), append(b, '\n'), 0o600)
}
