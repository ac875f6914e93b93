//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chromium is the browser the report test opens pages with; .ci/run
// installs it.
const chromium = "/usr/bin/chromium"

// TestReportsInBrowser opens a run report, a compare report and a sweep
// report in headless Chromium, from disk, and checks that every plot
// loaded: the page's script counts the images with a natural width into
// data-plots-ok and data-plots-failed on <body>, and the dumped DOM must
// show them all loaded. It also takes a screenshot of each page (copied
// to $DCHAT_SCREENSHOT_DIR when set).
func TestReportsInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s not found (apt-get install chromium): the reports are not checked in a browser", chromium)
	}
	base := t.TempDir()
	a, b := filepath.Join(base, "run-a"), filepath.Join(base, "run-b")
	runInto(t, a, "1")
	runInto(t, b, "2")
	cmp, sw := filepath.Join(base, "compare"), filepath.Join(base, "sweep")
	if _, _, err := execute(t, "compare", a, b, "--out", cmp); err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(t, "sweep", "ping-50", "--seeds", "1-3", "--set", "network.loss=0%,5%,10%", "--set", "nodes.count=20", "--quiet", "--out", sw); err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		name, dir string
		plots     int
	}{
		{"run", a, 6},       // propagation, latency CDF, DHT CDF and hops, ping RTT, connections over time
		{"compare", cmp, 4}, // propagation, latency CDFs, DHT CDFs, ping RTT
		{"sweep", sw, 2},    // ping RTT p50 and p95 against loss
	}
	var wg sync.WaitGroup
	for _, p := range pages {
		wg.Go(func() {
			page := filepath.Join(p.dir, "report.html")
			html, err := os.ReadFile(page)
			if err != nil {
				t.Error(err)
				return
			}
			if want := `data-plots="` + strconv.Itoa(p.plots) + `"`; !bytes.Contains(html, []byte(want)) {
				t.Errorf("%s report: want %s", p.name, want)
			}
			dom, err := runChromium(t, "--dump-dom", "file://"+page)
			if err != nil {
				t.Errorf("%s report: %v", p.name, err)
				return
			}
			body := regexp.MustCompile(`<body[^>]*>`).Find(dom)
			ok, failed := attrInt(body, "data-plots-ok"), attrInt(body, "data-plots-failed")
			if ok != p.plots || failed != 0 {
				t.Errorf("%s report in Chromium: %d plots loaded, %d failed, want %d and 0 (body tag %q)", p.name, ok, failed, p.plots, body)
			}
			shot := filepath.Join(t.TempDir(), p.name+"-report.png")
			if _, err := runChromium(t, "--window-size=1280,2000", "--screenshot="+shot, "file://"+page); err != nil {
				t.Errorf("%s screenshot: %v", p.name, err)
				return
			}
			checkScreenshot(t, shot)
			if d := os.Getenv("DCHAT_SCREENSHOT_DIR"); d != "" {
				b, _ := os.ReadFile(shot)
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Error(err)
				} else if err := os.WriteFile(filepath.Join(d, filepath.Base(shot)), b, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// runChromium runs headless Chromium with a fresh profile and home folder
// and no network services on the given arguments, within 60 s, and
// returns its output. Chromium runs in a process group of its own, which
// is killed when it exits or times out; its crash handlers, which leave
// the group, are found by the private folder in their arguments and
// killed too, so no process outlives the call.
func runChromium(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	own := t.TempDir()
	home := filepath.Join(own, "home")
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--user-data-dir=" + filepath.Join(own, "profile"), "--virtual-time-budget=5000"}, args...)
	cmd := exec.CommandContext(ctx, chromium, all...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	// Helpers (zygote, GPU, renderers) may linger: end the group, then
	// the crash handlers.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Logf("killing chromium's process group: %v", kerr)
	}
	killByArgument(t, own)
	if ctx.Err() != nil {
		return nil, errors.Join(ctx.Err(), errors.New(tail(stderr.Bytes())))
	}
	if err != nil {
		return nil, errors.Join(err, errors.New(tail(stderr.Bytes())))
	}
	return stdout.Bytes(), nil
}

// killByArgument kills the processes whose command line holds marker (a
// folder private to one Chromium run) and waits up to 5 s for them to go.
// Without /proc it does nothing.
func killByArgument(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || !bytes.Contains(cl, []byte(marker)) {
				continue
			}
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(st, []byte(") Z ")) {
				continue // a zombie: gone but for its parent's wait
			}
			left = append(left, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("chromium processes %v outlived the test", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attrInt reads an integer attribute from a tag; -1 if it is missing.
func attrInt(tag []byte, name string) int {
	m := regexp.MustCompile(name + `="(\d+)"`).FindSubmatch(tag)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// checkScreenshot checks that path is a 1280×2000 PNG with something on it.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("%s is %v, want 1280×2000", path, b)
	}
	// Count non-white pixels on a coarse grid: a blank page has none.
	ink := 0
	for y := 0; y < img.Bounds().Dy(); y += 8 {
		for x := 0; x < img.Bounds().Dx(); x += 8 {
			if r, g, b, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || b < 0xf000 {
				ink++
			}
		}
	}
	if ink < 500 {
		t.Errorf("%s looks blank (%d inked grid points)", path, ink)
	}
}

// tail is the last lines of Chromium's stderr, for an error message.
func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "chromium stderr: " + string(b)
}
