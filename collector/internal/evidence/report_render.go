package evidence

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"

	"github.com/go-pdf/fpdf"
)

// The report is laid out once as a document (sections of paragraphs,
// tables and charts) and then written as HTML or PDF from that layout.

type docTable struct {
	Caption string
	Head    []string
	Rows    [][]string
	Num     []bool    // right-aligned (numeric) columns
	Widths  []float64 // relative column widths
}

type docChart struct {
	Caption string
	Labels  []string
	Values  []int
}

type docBlock struct {
	Text  string
	Table *docTable
	Chart *docChart
}

type docSection struct {
	Title  string
	Blocks []docBlock
}

type reviewDoc struct {
	Lang, Title, Subtitle, Period string
	Sections                      []docSection
	SignOff                       []string // the roles that sign
	SignName, SignDate, SignSign  string
	SignLead                      string
}

// checkLang returns lang if the report is written in it.
func checkLang(lang string) (text, error) {
	if lang == "" {
		return "nb", nil
	}
	if !slices.Contains(ReportLangs, lang) {
		return "", fmt.Errorf("report language %q: want nb or en", lang)
	}
	return text(lang), nil
}

func para(s string) docBlock { return docBlock{Text: s} }

// facts is a two-column table of labelled numbers; caption may be ""
// under a section heading that says what it is.
func facts(l text, caption string, rows ...[]string) docBlock {
	return docBlock{Table: &docTable{Caption: caption, Head: []string{l.t("col.what"), l.t("col.count")},
		Rows: rows, Num: []bool{false, true}, Widths: []float64{3, 1}}}
}

// countTable lists counts under a key column; keyName translates keys.
func countTable(l text, caption, keyCol string, cs []Count, keyName func(string) string) docBlock {
	if len(cs) == 0 {
		return para(caption + ": " + l.t("none"))
	}
	t := &docTable{Caption: caption, Head: []string{keyCol, l.t("col.count")}, Num: []bool{false, true}, Widths: []float64{3, 1}}
	for _, c := range cs {
		t.Rows = append(t.Rows, []string{keyName(c.Key), l.num(c.N)})
	}
	return docBlock{Table: t}
}

func openTable(l text, caption string, items []OpenItem) docBlock {
	if len(items) == 0 {
		return para(caption + ": " + l.t("none"))
	}
	t := &docTable{Caption: caption, Head: []string{l.t("col.id"), l.t("col.title"), l.t("col.severity"), l.t("col.status"), l.t("col.due")},
		Widths: []float64{1.6, 4, 1.1, 1.4, 1.7}}
	for _, it := range items {
		due := l.date(it.Due)
		if it.Overdue {
			due = l.t("overdue", due)
		}
		t.Rows = append(t.Rows, []string{it.ID, it.Title, l.or("sev."+it.Severity, it.Severity), l.or("status."+it.Status, it.Status), due})
	}
	return docBlock{Table: t}
}

// layout turns the gathered review into the document in lang.
func (r Review) layout(l text) reviewDoc {
	d := reviewDoc{Lang: string(l), Title: l.t("title", r.Year), Subtitle: l.t("subtitle"),
		Period:  l.t("period", l.date(r.From), l.date(r.To.AddDate(0, 0, -1)), l.date(r.Generated)),
		SignOff: []string{l.t("signoff.security"), l.t("signoff.management")}, SignLead: l.t("signoff.lead"),
		SignName: l.t("signoff.name"), SignDate: l.t("signoff.date"), SignSign: l.t("signoff.sign")}
	sev := func(k string) string { return l.or("sev."+k, k) }
	same := func(k string) string { return k }

	c := r.Controls
	last := "–"
	if !c.LastExport.IsZero() {
		last = l.date(c.LastExport)
	}
	d.Sections = append(d.Sections, docSection{Title: l.t("s.controls"), Blocks: []docBlock{
		para(l.t("controls.lead")),
		facts(l, "", []string{l.t("controls.entries"), l.num(c.AuditEntries)},
			[]string{l.t("controls.exports"), l.num(c.Exports)}, []string{l.t("controls.last"), last}),
		countTable(l, l.t("controls.actions"), l.t("col.action"), c.ByAction, same),
	}})

	m := r.Map
	ms := docSection{Title: l.t("s.map")}
	if !m.Known {
		ms.Blocks = append(ms.Blocks, para(l.t("map.none")))
	} else {
		total := m.Added + m.Removed + m.Changed
		ms.Blocks = append(ms.Blocks, para(l.t("map.lead", l.date(m.EndAt), l.date(m.StartAt))),
			facts(l, "", []string{l.t("map.added"), l.num(m.Added)}, []string{l.t("map.removed"), l.num(m.Removed)},
				[]string{l.t("map.changed"), l.num(m.Changed)}))
		if total > 0 {
			t := &docTable{Caption: l.t("map.list", len(m.Changes), total), Widths: []float64{1, 2, 1, 2.5, 2.5},
				Head: []string{l.t("col.kind"), l.t("col.key"), l.t("col.op"), l.t("col.before"), l.t("col.after")}}
			for _, ch := range m.Changes {
				t.Rows = append(t.Rows, []string{ch.Kind, ch.Key, l.or("op."+ch.Op, ch.Op), ch.Before, ch.After})
			}
			ms.Blocks = append(ms.Blocks, docBlock{Table: t})
		}
	}
	d.Sections = append(d.Sections, ms)

	ds := r.Deviations
	chart := &docChart{Caption: l.t("dev.chart")}
	for i, n := range ds.PerMonth {
		chart.Labels = append(chart.Labels, l.t("month."+strconv.Itoa(i+1)))
		chart.Values = append(chart.Values, n)
	}
	median, mean := "–", "–"
	if ds.ClosedInYear > 0 {
		median, mean = l.days(ds.MedianClose), l.days(ds.MeanClose)
	}
	d.Sections = append(d.Sections, docSection{Title: l.t("s.deviations"), Blocks: []docBlock{
		facts(l, "", []string{l.t("dev.created"), l.num(ds.Created)}, []string{l.t("dev.closed"), l.num(ds.Closed)},
			[]string{l.t("dev.open"), l.num(ds.OpenNow)}, []string{l.t("dev.closed_year"), l.num(ds.ClosedInYear)},
			[]string{l.t("dev.median"), median}, []string{l.t("dev.mean"), mean}),
		{Chart: chart},
		countTable(l, l.t("dev.by_severity"), l.t("col.severity"), ds.BySeverity, sev),
		countTable(l, l.t("dev.by_rule"), l.t("col.rule"), ds.ByRule, same),
		countTable(l, l.t("dev.by_unit"), l.t("col.unit"), ds.ByUnit, func(k string) string {
			if k == "" {
				return l.t("no_unit")
			}
			return k
		}),
	}})

	b := r.Breaches
	d.Sections = append(d.Sections, docSection{Title: l.t("s.breaches"), Blocks: []docBlock{
		facts(l, "", []string{l.t("br.total"), l.num(b.Total)}, []string{l.t("br.notified"), l.num(b.Notified)},
			[]string{l.t("br.in72h"), l.num(b.NotifiedIn72h)}, []string{l.t("br.not"), l.num(b.NotNotified)},
			[]string{l.t("br.undecided"), l.num(b.Undecided)}),
	}})

	e := r.Equipment
	d.Sections = append(d.Sections, docSection{Title: l.t("s.equipment"), Blocks: []docBlock{
		para(l.t("eq.lead")),
		facts(l, "", []string{l.t("eq.found"), l.num(e.Found)}, []string{l.t("eq.resolved"), l.num(e.Resolved)}),
		countTable(l, l.t("eq.by_rule"), l.t("col.rule"), e.ByRule, same),
	}})

	d.Sections = append(d.Sections, docSection{Title: l.t("s.risk"), Blocks: []docBlock{
		para(l.t("risk.lead")),
		countTable(l, l.t("risk.caption"), l.t("col.severity"), r.OpenBySeverity, sev),
	}})

	d.Sections = append(d.Sections, docSection{Title: l.t("s.open"), Blocks: []docBlock{
		openTable(l, l.t("open.deviations", len(r.Open), r.OpenTotal), r.Open),
		openTable(l, l.t("open.breaches"), r.OverdueBreaches),
	}})
	return d
}

// chartBar is one bar of the HTML chart, in SVG user units.
type chartBar struct {
	X, Y, W, H, LabelX int
	Label, Value       string
}

const (
	svgChartW, svgChartH, svgChartTop, svgChartBottom = 600, 220, 20, 30
)

func (c docChart) Bars() []chartBar {
	top := slices.Max(append([]int{1}, c.Values...))
	slot := svgChartW / max(len(c.Values), 1)
	plot := svgChartH - svgChartTop - svgChartBottom
	out := make([]chartBar, len(c.Values))
	for i, v := range c.Values {
		h := v * plot / top
		out[i] = chartBar{X: i*slot + slot/6, W: slot * 2 / 3, H: h, Y: svgChartTop + plot - h, LabelX: i*slot + slot/2,
			Label: c.Labels[i], Value: strconv.Itoa(v)}
	}
	return out
}

var reviewHTML = template.Must(template.New("review").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #1f4e79; padding-bottom: .2rem; margin-top: 2rem; }
.sub { color: #444; margin: 0; }
table { border-collapse: collapse; margin: .8rem 0; min-width: 24rem; }
caption { text-align: left; font-weight: bold; padding-bottom: .3rem; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #e8eef5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
svg text { font-size: 12px; fill: #1a1a1a; }
svg rect.bar { fill: #1f4e79; }
.sign td { height: 2.2rem; min-width: 12rem; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table, figure { break-inside: avoid; } }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
<p class="sub">{{.Period}}</p>
</header>
<main>
{{range .Sections}}
<section>
<h2>{{.Title}}</h2>
{{range .Blocks}}
{{if .Table}}{{with .Table}}
<table>
{{with .Caption}}<caption>{{.}}</caption>{{end}}
<thead><tr>{{range .Head}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{$num := .Num}}{{range .Rows}}<tr>{{range $i, $c := .}}{{if and (lt $i (len $num)) (index $num $i)}}<td class="num">{{$c}}</td>{{else if eq $i 0}}<th scope="row">{{$c}}</th>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{else if .Chart}}{{with .Chart}}
<figure>
<figcaption><strong>{{.Caption}}</strong></figcaption>
<svg role="img" aria-label="{{.Caption}}" viewBox="0 0 600 220" width="600" height="220" xmlns="http://www.w3.org/2000/svg">
<line x1="0" y1="190" x2="600" y2="190" stroke="#555"/>
{{range .Bars}}<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Label}}: {{.Value}}</title></rect>
<text x="{{.LabelX}}" y="206" text-anchor="middle">{{.Label}}</text>
<text x="{{.LabelX}}" y="{{.Y}}" dy="-4" text-anchor="middle">{{.Value}}</text>
{{end}}</svg>
</figure>
<table>
<caption>{{.Caption}}</caption>
<thead><tr>{{range .Labels}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody><tr>{{range .Values}}<td class="num">{{.}}</td>{{end}}</tr></tbody>
</table>
{{end}}{{else}}
<p>{{.Text}}</p>
{{end}}
{{end}}
</section>
{{end}}
<section>
<h2>{{.SignTitle}}</h2>
<p>{{.SignLead}}</p>
<table class="sign">
<thead><tr><th scope="col"></th><th scope="col">{{.SignName}}</th><th scope="col">{{.SignDate}}</th><th scope="col">{{.SignSign}}</th></tr></thead>
<tbody>{{range .SignOff}}<tr><th scope="row">{{.}}</th><td></td><td></td><td></td></tr>{{end}}</tbody>
</table>
</section>
</main>
</body>
</html>
`))

// htmlDoc adds what only the HTML template needs.
type htmlDoc struct {
	reviewDoc
	SignTitle string
}

// WriteReviewHTML writes the report as one self-contained HTML page (no
// scripts, no external files) in lang ("nb" or "en"; "" is nb).
func WriteReviewHTML(w io.Writer, r Review, lang string) error {
	l, err := checkLang(lang)
	if err != nil {
		return err
	}
	return reviewHTML.Execute(w, htmlDoc{reviewDoc: r.layout(l), SignTitle: l.t("s.signoff")})
}

// PDF layout, in millimetres on A4.
const (
	pdfMargin = 18.0
	pdfWidth  = 210.0 - 2*pdfMargin
	pdfLine   = 5.5
)

// WriteReviewPDF writes the report as PDF in lang, with the core Helvetica
// font in the cp1252 encoding (enough for Norwegian: æ, ø, å and the dashes).
func WriteReviewPDF(w io.Writer, r Review, lang string) error {
	l, err := checkLang(lang)
	if err != nil {
		return err
	}
	d := r.layout(l)
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, pdfMargin)
	pdf.SetTitle(d.Title, true)
	pdf.SetCreator("Sonevakt", true)
	pdf.SetLang(d.Lang)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, tr(l.t("page", pdf.PageNo(), "{nb}")), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 18)
	pdf.MultiCell(pdfWidth, 9, tr(d.Title), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(pdfWidth, pdfLine, tr(d.Subtitle), "", "L", false)
	pdf.MultiCell(pdfWidth, pdfLine, tr(d.Period), "", "L", false)

	heading := func(s string) {
		if pdf.GetY() > 297-pdfMargin-30 {
			pdf.AddPage()
		}
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.SetTextColor(31, 78, 121)
		pdf.MultiCell(pdfWidth, 7, tr(s), "B", "L", false)
		pdf.SetTextColor(0, 0, 0)
		pdf.Ln(2)
	}
	for _, s := range d.Sections {
		heading(s.Title)
		for _, b := range s.Blocks {
			switch {
			case b.Table != nil:
				pdfTable(pdf, tr, *b.Table)
			case b.Chart != nil:
				pdfChart(pdf, tr, *b.Chart)
			default:
				pdf.SetFont("Helvetica", "", 10)
				pdf.MultiCell(pdfWidth, pdfLine, tr(b.Text), "", "L", false)
				pdf.Ln(1)
			}
		}
	}

	heading(l.t("s.signoff"))
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(pdfWidth, pdfLine, tr(d.SignLead), "", "L", false)
	pdf.Ln(3)
	widths := []float64{45, 50, 30, pdfWidth - 125}
	pdf.SetFont("Helvetica", "B", 10)
	for i, h := range []string{"", d.SignName, d.SignDate, d.SignSign} {
		pdf.CellFormat(widths[i], 7, tr(h), "1", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, role := range d.SignOff {
		pdf.CellFormat(widths[0], 14, tr(role), "1", 0, "L", false, 0, "")
		for _, wd := range widths[1:] {
			pdf.CellFormat(wd, 14, "", "1", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("report PDF: %w", err)
	}
	return pdf.Output(w)
}

// fit cuts s so that it fits width mm in the current font, marking the cut.
func fit(pdf *fpdf.Fpdf, s string, width float64) string {
	if pdf.GetStringWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && pdf.GetStringWidth(string(r)+"...") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "..."
}

func pdfTable(pdf *fpdf.Fpdf, tr func(string) string, t docTable) {
	total := 0.0
	for _, w := range t.Widths {
		total += w
	}
	widths := make([]float64, len(t.Head))
	tableW := pdfWidth
	if len(t.Head) <= 2 {
		tableW = pdfWidth * 0.75
	}
	for i := range widths {
		if i < len(t.Widths) && total > 0 {
			widths[i] = tableW * t.Widths[i] / total
		} else {
			widths[i] = tableW / float64(len(widths))
		}
	}
	const rowH = 6.0
	header := func() {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.SetFillColor(232, 238, 245)
		for i, h := range t.Head {
			pdf.CellFormat(widths[i], rowH, fit(pdf, tr(h), widths[i]-2), "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 9)
	}
	if pdf.GetY() > 297-pdfMargin-3*rowH-8 {
		pdf.AddPage()
	}
	if t.Caption != "" {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.MultiCell(pdfWidth, pdfLine, tr(t.Caption), "", "L", false)
	}
	header()
	for _, row := range t.Rows {
		if pdf.GetY() > 297-pdfMargin-rowH-2 {
			pdf.AddPage()
			header()
		}
		for i, c := range row {
			align := "L"
			if i < len(t.Num) && t.Num[i] {
				align = "R"
			}
			pdf.CellFormat(widths[i], rowH, fit(pdf, tr(c), widths[i]-2), "1", 0, align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.Ln(3)
}

// pdfChart draws a bar chart with a value over each bar and a label under it.
func pdfChart(pdf *fpdf.Fpdf, tr func(string) string, c docChart) {
	const plotH, labelH = 45.0, 6.0
	if pdf.GetY() > 297-pdfMargin-plotH-25 {
		pdf.AddPage()
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.MultiCell(pdfWidth, pdfLine, tr(c.Caption), "", "L", false)
	x0, y0 := pdfMargin, pdf.GetY()+6
	base := y0 + plotH
	top := slices.Max(append([]int{1}, c.Values...))
	slot := pdfWidth / float64(max(len(c.Values), 1))
	pdf.SetDrawColor(85, 85, 85)
	pdf.Line(x0, base, x0+pdfWidth, base)
	pdf.SetFillColor(31, 78, 121)
	pdf.SetFont("Helvetica", "", 8)
	for i, v := range c.Values {
		h := plotH * float64(v) / float64(top)
		x := x0 + float64(i)*slot + slot/6
		if h > 0 {
			pdf.Rect(x, base-h, slot*2/3, h, "F")
		}
		pdf.SetXY(x0+float64(i)*slot, base-h-5)
		pdf.CellFormat(slot, 5, strconv.Itoa(v), "", 0, "C", false, 0, "")
		pdf.SetXY(x0+float64(i)*slot, base+1)
		pdf.CellFormat(slot, labelH, tr(c.Labels[i]), "", 0, "C", false, 0, "")
	}
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetXY(pdfMargin, base+labelH+4)
}
