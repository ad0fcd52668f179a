// dashboard-check: parse every PromQL query of Grafana dashboards with Prometheus's own parser
// (github.com/prometheus/prometheus/promql/parser), offline.
//
// Grafana's variables are replaced before parsing: $__rate_interval, $__interval and $__range by
// 5m, any other $var / ${var} / ${var:format} by "x" (they stand in label values and regexes).
// For each query it prints one JSON line: the dashboard file, panel title, refId, the query, and
// every series selector in it (metric name, the function applied to it, if any, and the labels
// of the nearest enclosing aggregation's "by" clause). Exit status 1 when a query does not
// parse (one line per problem on stderr), 2 on usage or I/O errors.
//
//	go run . ../../grafana/dashboards/*.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"

	"github.com/prometheus/prometheus/promql/parser"
)

type selector struct {
	Metric   string   `json:"metric"`
	Function string   `json:"function,omitempty"`
	By       []string `json:"by,omitempty"`
}

type query struct {
	File      string     `json:"file"`
	Panel     string     `json:"panel"`
	RefID     string     `json:"refId"`
	Expr      string     `json:"expr"`
	Selectors []selector `json:"selectors"`
}

type dashboard struct {
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	intervalVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)
	otherVars    = regexp.MustCompile(`\$\{\w+(:\w+)?\}|\$\w+`)
	labelValues  = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)
)

func expand(expr string) string {
	return otherVars.ReplaceAllString(intervalVars.ReplaceAllString(expr, "5m"), "x")
}

func inspect(p parser.Parser, expr string) ([]selector, error) {
	ast, err := p.ParseExpr(expand(expr))
	if err != nil {
		return nil, err
	}
	var out []selector
	parser.Inspect(ast, func(node parser.Node, path []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{Metric: vs.Name}
		for i := len(path) - 1; i >= 0; i-- {
			switch n := path[i].(type) {
			case *parser.Call:
				if s.Function == "" {
					s.Function = n.Func.Name
				}
			case *parser.AggregateExpr:
				if s.By == nil && !n.Without {
					s.By = append([]string{}, n.Grouping...)
				}
			}
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}

func main() {
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: dashboard-check DASHBOARD.json...") }
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	enc := json.NewEncoder(os.Stdout)
	problems := 0
	for _, file := range flag.Args() {
		raw, err := os.ReadFile(file)
		var d dashboard
		if err == nil {
			err = json.Unmarshal(raw, &d)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(2)
		}
		var queries []query
		for _, panel := range d.Panels {
			for _, t := range panel.Targets {
				if t.Expr != "" {
					queries = append(queries, query{File: file, Panel: panel.Title, RefID: t.RefID, Expr: t.Expr})
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Datasource.Type != "prometheus" {
				continue
			}
			q := query{File: file, Panel: "variable " + v.Name, RefID: v.Name, Expr: v.Definition}
			if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
				q.Expr = m[1] // label_values(SELECTOR, label): the selector is PromQL
			}
			queries = append(queries, q)
		}
		for _, q := range queries {
			sels, err := inspect(p, q.Expr)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: panel %q, query %s: %v\n", file, q.Panel, q.RefID, err)
				problems++
				continue
			}
			q.Selectors = sels
			if err := enc.Encode(q); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "dashboard-check: %d query(ies) do not parse\n", problems)
		os.Exit(1)
	}
}
