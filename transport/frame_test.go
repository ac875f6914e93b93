package transport

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/frames.golden")

func TestFrameHeaders(t *testing.T) {
	cookie := [cookieSize]byte{0xc0, 0x0c, 0x1e}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"data header", appendDataHeader(nil, 0x01020304, 0x0a0b0c0d0e0f1011), "04000000" + "01020304" + "0a0b0c0d0e0f1011"},
		{"cookie", appendCookie(nil, 0xdeadbeef, &cookie), "05000000" + "deadbeef" + "c00c1e00000000000000000000000000"},
		{"resp header", appendResp(nil, 0x11111111, 0x22222222, nil), "02000000" + "11111111" + "22222222"},
		{"finish header", appendFinish(nil, 0x33333333, nil), "03000000" + "33333333"},
		{"init header", appendInit(nil, 0x44444444, &cookie, nil), "01000000" + "44444444" + "c00c1e00000000000000000000000000"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	if respLen != 205 || finishLen != 169 || initLen != 256 || Overhead != 32 {
		t.Errorf("sizes: resp %d finish %d init %d overhead %d", respLen, finishLen, initLen, Overhead)
	}
}

// The whole handshake and a data frame are deterministic given the keys
// and the entropy: their bytes are pinned in testdata/frames.golden (run
// with -update after an intended change of the format).
func TestFrameGoldens(t *testing.T) {
	a, b := testKeys(t, 0), testKeys(t, 1)
	tr := runHandshake(t, a, b, seeded(10), seeded(11), 0x0a0a0a0a, 0x0b0b0b0b)
	tr.a.sendN = 7
	data, err := tr.a.seal(nil, []byte("hello, dchat"))
	if err != nil {
		t.Fatal(err)
	}
	keepalive, err := tr.b.seal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []struct {
		name string
		b    []byte
	}{
		{"init", tr.init}, {"resp", tr.resp}, {"finish", tr.finish},
		{"data", data}, {"keepalive", keepalive},
	}
	path := filepath.Join("testdata", "frames.golden")
	if *update {
		var buf bytes.Buffer
		buf.WriteString("# Frames of a handshake between test identities 0 and 1 (seeded entropy),\n")
		buf.WriteString("# then data \"hello, dchat\" at counter 7 and the responder's keepalive.\n")
		for _, g := range got {
			fmt.Fprintf(&buf, "%s %s\n", g.name, hex.EncodeToString(g.b))
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, path)
	for _, g := range got {
		if w, ok := want[g.name]; !ok {
			t.Errorf("%s: missing from %s", g.name, path)
		} else if h := hex.EncodeToString(g.b); h != w {
			t.Errorf("%s:\n got %s\nwant %s", g.name, h, w)
		}
	}
	// And they parse back, and the data decrypts.
	f, err := parseFrame(data)
	if err != nil || f.counter != 7 || f.receiver != 0x0b0b0b0b {
		t.Fatalf("data frame: %+v %v", f, err)
	}
	pt, _, ok := tr.b.open(&f)
	if !ok || string(pt) != "hello, dchat" {
		t.Fatalf("open: %q %v", pt, ok)
	}
}

func readGolden(t *testing.T, path string) map[string]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, h, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out[name] = h
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseFrameRejects(t *testing.T) {
	a, b := testKeys(t, 0), testKeys(t, 1)
	tr := runHandshake(t, a, b, seeded(10), seeded(11), 1, 2)
	data, _ := tr.a.seal(nil, []byte("x"))
	bad := map[string][]byte{
		"empty":           nil,
		"short":           {frameData, 0, 0},
		"unknown type":    append([]byte{0x7f}, make([]byte, 40)...),
		"reserved":        append([]byte{frameData, 0, 1, 0}, make([]byte, 40)...),
		"short init":      tr.init[:initLen-1],
		"long init":       append(append([]byte{}, tr.init...), 0),
		"short resp":      tr.resp[:respLen-1],
		"long finish":     append(append([]byte{}, tr.finish...), 0),
		"data below tag":  data[:dataHeaderLen+tagLen-1],
		"cookie too long": append(appendCookie(nil, 1, &[cookieSize]byte{}), 0),
	}
	for name, b := range bad {
		if _, err := parseFrame(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err %v, want malformed", name, err)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	a, b := testKeys(f, 0), testKeys(f, 1)
	tr := runHandshake(f, a, b, seeded(10), seeded(11), 1, 2)
	data, _ := tr.a.seal(nil, []byte("seed"))
	for _, s := range [][]byte{tr.init, tr.resp, tr.finish, data, appendCookie(nil, 1, &[cookieSize]byte{9})} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseFrame(b)
		if err != nil {
			return
		}
		// A parsed frame re-encodes to the same bytes.
		var out []byte
		switch fr.typ {
		case frameInit:
			out = appendInit(nil, fr.sender, &fr.cookie, fr.body)
		case frameResp:
			out = appendResp(nil, fr.sender, fr.receiver, fr.body)
		case frameFinish:
			out = appendFinish(nil, fr.receiver, fr.body)
		case frameData:
			out = append(appendDataHeader(nil, fr.receiver, fr.counter), fr.body...)
		case frameCookie:
			out = appendCookie(nil, fr.receiver, &fr.cookie)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x, parsed from %x", out, b)
		}
	})
}
