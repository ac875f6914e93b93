package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Page is a self-contained HTML report: one file that opens from disk in
// any browser, with no server and no network. Plots are embedded as SVG
// data URIs, the style sheet and the one small script are inline, and every
// text is escaped by html/template. Nothing on the page depends on the time
// it was written, so the same inputs give the same bytes.
//
// A Page is a plain value; build it, then call HTML or Write.
type Page struct {
	// Title heads the page and names the browser tab.
	Title string
	// Subtitle is one line under the title.
	Subtitle string
	// Sections appear in order, each listed in the page's contents.
	Sections []Section
}

// Section is one part of a Page: a heading, then its notes, command,
// tables, figures and preformatted text, in that order.
type Section struct {
	// ID is the section's anchor (letters, digits and '-').
	ID    string
	Title string
	// Notes are paragraphs of plain text.
	Notes []string
	// Command is a shell command, shown in a code block.
	Command string
	Tables  []Table
	Figures []Figure
	// Pre is preformatted text (say, a scenario file).
	Pre string
	// Links are relative links to files beside the report.
	Links []Link
	// Collapsed sections start folded (an HTML <details> element).
	Collapsed bool
	// Cost marks a section whose figures depend on the machine (wall
	// clock, memory); it is set apart visually.
	Cost bool
}

// Link is a relative link to a file beside the report.
type Link struct {
	Href, Text string
}

// Table is a table of text cells. The first Left columns hold labels and
// are aligned left; the others hold numbers and are aligned right.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
	Left    int
	// Marked rows (by index) are highlighted, e.g. metrics that differ.
	Marked []bool
}

// Figure is one plot, embedded in the page as an SVG image.
type Figure struct {
	// Name identifies the plot (a file-like name, e.g.
	// gossip_propagation); it becomes the image's id.
	Name string
	// Caption is shown under the plot and is the image's alt text.
	Caption string
	SVG     []byte
}

// NewFigure renders ch as a Figure.
func NewFigure(name, caption string, ch *Chart) (Figure, error) {
	svg, err := ch.SVG()
	if err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", name, err)
	}
	return Figure{Name: name, Caption: caption, SVG: svg}, nil
}

// Plots is the number of figures on the page.
func (p *Page) Plots() int {
	n := 0
	for _, s := range p.Sections {
		n += len(s.Figures)
	}
	return n
}

// HTML renders the page.
func (p *Page) HTML() ([]byte, error) {
	type figView struct {
		ID, Caption string
		Src         template.HTMLAttr
	}
	type tableView struct {
		Caption string
		Header  []string
		Left    int
		Rows    []struct {
			Cells  []string
			Marked bool
		}
	}
	type sectionView struct {
		Section
		Tables  []tableView
		Figures []figView
	}
	v := struct {
		Title, Subtitle string
		Plots           int
		Sections        []sectionView
	}{Title: p.Title, Subtitle: p.Subtitle, Plots: p.Plots()}
	for _, s := range p.Sections {
		sv := sectionView{Section: s}
		for _, t := range s.Tables {
			tv := tableView{Caption: t.Caption, Header: t.Header, Left: t.Left}
			for i, r := range t.Rows {
				tv.Rows = append(tv.Rows, struct {
					Cells  []string
					Marked bool
				}{r, i < len(t.Marked) && t.Marked[i]})
			}
			sv.Tables = append(sv.Tables, tv)
		}
		for _, f := range s.Figures {
			sv.Figures = append(sv.Figures, figView{
				ID:      "plot-" + f.Name,
				Caption: f.Caption,
				// Built here from our own bytes: a data URI of base64
				// text, which cannot break out of the quotes (and would
				// only grow if escaped).
				Src: template.HTMLAttr(`src="data:image/svg+xml;base64,` + base64.StdEncoding.EncodeToString(f.SVG) + `"`),
			})
		}
		v.Sections = append(v.Sections, sv)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("report %q: %w", p.Title, err)
	}
	return b.Bytes(), nil
}

// Write renders the page to path atomically.
func (p *Page) Write(path string) error {
	b, err := p.HTML()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"num": func(i, left int) bool { return i >= left },
}).Parse(pageHTML))

// pageHTML is the page layout. The script at the end only counts the plots
// that loaded; the page reads fine without it.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1b1f23;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d8dee4; }
p { margin: 6px 0; max-width: 80ch; }
.subtitle { color: #57606a; margin: 0 0 12px; }
nav { font-size: .92em; color: #57606a; margin: 0 0 8px; }
nav a { margin-right: 12px; white-space: nowrap; }
a { color: #0969da; }
.tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 4px; white-space: nowrap; }
th, td { border: 1px solid #d0d7de; padding: 3px 10px; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; text-align: left; }
th.n, td.n { text-align: right; white-space: nowrap; }
tr.marked td { background: #fff8c5; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 4px; padding: 10px 12px;
  overflow-x: auto; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
pre.cmd { white-space: pre-wrap; overflow-wrap: anywhere; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; margin: 8px 0 14px; }
figure { margin: 0; padding: 8px; border: 1px solid #d8dee4; border-radius: 4px; }
figure img { display: block; width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .9em; margin-top: 4px; }
img.failed { outline: 3px solid #cf222e; min-height: 40px; }
section.cost { background: #fff8e6; border: 1px solid #e8d9a8; border-radius: 4px; padding: 2px 14px 8px; margin-top: 28px; }
section.cost h2 { border-bottom-color: #e8d9a8; margin-top: 12px; }
details > summary { cursor: pointer; color: #0969da; margin: 4px 0; }
ul.links { columns: 3 220px; padding-left: 18px; margin: 6px 0; }
@media print { .figures { display: block; } figure { break-inside: avoid; margin-bottom: 12px; } }
</style>
</head>
<body data-plots="{{.Plots}}">
<main>
<h1>{{.Title}}</h1>
{{with .Subtitle}}<p class="subtitle">{{.}}</p>
{{end}}<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a> {{end}}</nav>
{{range .Sections}}
<section id="{{.ID}}"{{if .Cost}} class="cost"{{end}}>
<h2>{{.Title}}</h2>
{{if .Collapsed}}<details><summary>show</summary>
{{end}}{{range .Notes}}<p>{{.}}</p>
{{end}}{{with .Command}}<pre class="cmd"><code>{{.}}</code></pre>
{{end}}{{with .Tables}}<div class="tables">
{{range .}}<div class="scroll"><table>
{{with .Caption}}<caption>{{.}}</caption>
{{end}}{{$left := .Left}}{{with .Header}}<thead><tr>{{range $i, $h := .}}<th{{if num $i $left}} class="n"{{end}}>{{$h}}</th>{{end}}</tr></thead>
{{end}}<tbody>
{{range .Rows}}<tr{{if .Marked}} class="marked"{{end}}>{{range $i, $c := .Cells}}<td{{if num $i $left}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
{{end}}</div>
{{end}}{{with .Figures}}<div class="figures">
{{range .}}<figure><img class="plot" id="{{.ID}}" alt="{{.Caption}}" {{.Src}} width="576" height="384"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}</div>
{{end}}{{with .Links}}<ul class="links">
{{range .}}<li><a href="{{.Href}}">{{.Text}}</a></li>
{{end}}</ul>
{{end}}{{with .Pre}}<pre>{{.}}</pre>
{{end}}{{if .Collapsed}}</details>
{{end}}</section>
{{end}}
</main>
<script>
window.addEventListener("load", function () {
  var ok = 0, failed = 0;
  document.querySelectorAll("img.plot").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { ok++; } else { failed++; img.classList.add("failed"); }
  });
  document.body.setAttribute("data-plots-ok", ok);
  document.body.setAttribute("data-plots-failed", failed);
});
</script>
</body>
</html>
`

// FormatNumber formats a metric for a table: whole numbers exactly (below
// 1e15), others with six significant digits at most; thousands grouped
// with commas, no exponent between 1e-4 and 1e15. NaN is "n/a".
func FormatNumber(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return FormatSig(x, 16)
	}
	return FormatSig(x, 6)
}

// FormatSig is FormatNumber with at most sig significant digits (a
// confidence half-width needs fewer than its mean).
func FormatSig(x float64, sig int) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', sig, 64), 64)
	if r == 0 {
		return "0"
	}
	if a := math.Abs(r); a >= 1e15 || a < 1e-4 {
		return strconv.FormatFloat(r, 'g', sig, 64)
	}
	s := strconv.FormatFloat(r, 'f', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(intPart[i])
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

// FormatChange formats the relative change from a to b in percent, with a
// sign: "+12.5%", "-3.04%", "0%". It is "n/a" when a is 0 and b is not.
func FormatChange(a, b float64) string {
	switch {
	case a == b:
		return "0%"
	case a == 0 || math.IsNaN(a) || math.IsNaN(b):
		return "n/a"
	}
	rel := 100 * (b - a) / math.Abs(a)
	s := strconv.FormatFloat(rel, 'g', 3, 64)
	if strings.ContainsAny(s, "e") {
		s = strconv.FormatFloat(rel, 'f', 0, 64)
	}
	if rel > 0 {
		s = "+" + s
	}
	return s + "%"
}
