// k8s-validate: render kustomizations with the kustomize Go library and validate every object
// against the Kubernetes OpenAPI v3 schema and the CRD schemas (KEDA, prometheus-operator),
// offline and strictly: unknown fields, wrong types, missing required fields, bad enum values and
// unknown kinds are errors, as `kubectl apply --validate=strict` would report them.
//
// The schemas are Go modules pinned in go.mod/go.sum and fetched by the Go toolchain (module
// proxy or module cache), never downloaded from anywhere else:
//
//	k8s.io/kubernetes                                  api/openapi-spec/v3/*.json
//	github.com/kedacore/keda/v2                        config/crd/bases/*.yaml
//	github.com/prometheus-operator/prometheus-operator example/prometheus-operator-crd/*.yaml
//
// They are data-only requirements (no package of theirs is imported), so `go mod tidy` would drop
// them: keep them in go.mod by hand (see the comment there).
//
// Usage (from this directory; `go run .` works too):
//
//	go build -o k8s-validate . && ./k8s-validate [-print] [-moddir DIR] KUSTOMIZATION_DIR...
//
// Exit status 0 when every object of every kustomization is valid, 1 when one is not (each
// problem on its own line: kustomization, kind, namespace/name, JSON pointer, reason), 2 on usage
// or set-up errors. -print writes the rendered objects as one JSON document per line to stdout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The data modules and the folders of schemas they carry.
const (
	k8sModule   = "k8s.io/kubernetes"
	kedaModule  = "github.com/kedacore/keda/v2"
	promModule  = "github.com/prometheus-operator/prometheus-operator"
	k8sSpecDir  = "api/openapi-spec/v3"
	kedaCRDDir  = "config/crd/bases"
	promCRDDir  = "example/prometheus-operator-crd"
	rootURL     = "https://schemas.linewatch.invalid/k8s.json"
	objectMeta  = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
	compRefPref = "#/components/schemas/"
)

type gvk struct{ group, version, kind string }

func (g gvk) String() string {
	if g.group == "" {
		return g.version + "/" + g.kind
	}
	return g.group + "/" + g.version + "/" + g.kind
}

// registry maps every known group/version/kind to the URL of its compiled JSON schema.
type registry struct {
	compiler *jsonschema.Compiler
	urls     map[gvk]string
	compiled map[gvk]*jsonschema.Schema
}

func main() {
	printObjects := flag.Bool("print", false, "write the rendered objects to stdout, one JSON document per line")
	moddir := flag.String("moddir", ".", "directory of this tool's go.mod (where the schema modules are pinned)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate [-print] [-moddir DIR] KUSTOMIZATION_DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	dirs, err := moduleDirs(*moddir, k8sModule, kedaModule, promModule)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-validate:", err)
		os.Exit(2)
	}
	reg, err := loadRegistry(
		filepath.Join(dirs[k8sModule], k8sSpecDir),
		[]string{filepath.Join(dirs[kedaModule], kedaCRDDir), filepath.Join(dirs[promModule], promCRDDir)},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-validate: loading schemas:", err)
		os.Exit(2)
	}
	problems := 0
	for _, dir := range flag.Args() {
		n, err := validateKustomization(reg, dir, *printObjects)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: kustomize build failed: %v\n", dir, err)
			problems++
			continue
		}
		problems += n
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "k8s-validate: %d problem(s)\n", problems)
		os.Exit(1)
	}
}

// moduleDirs asks the Go toolchain where the pinned modules are (downloading them through the
// module proxy and checking them against go.sum if they are not in the module cache yet).
func moduleDirs(moddir string, modules ...string) (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"mod", "download", "-json"}, modules...)...)
	cmd.Dir = moddir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s (in %s): %v: %s", strings.Join(modules, " "), moddir, err, stderr.String())
	}
	dirs := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct{ Path, Dir, Error string }
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		if m.Error != "" {
			return nil, fmt.Errorf("%s: %s", m.Path, m.Error)
		}
		dirs[m.Path] = m.Dir
	}
	for _, m := range modules {
		if dirs[m] == "" {
			return nil, fmt.Errorf("module %s is not required in %s/go.mod (was it dropped by `go mod tidy`?)", m, moddir)
		}
	}
	return dirs, nil
}

func loadRegistry(specDir string, crdDirs []string) (*registry, error) {
	reg := &registry{compiler: jsonschema.NewCompiler(), urls: map[gvk]string{}, compiled: map[gvk]*jsonschema.Schema{}}
	// OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few extensions (converted below).
	reg.compiler.DefaultDraft(jsonschema.Draft4)

	files, err := filepath.Glob(filepath.Join(specDir, "*_openapi.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no OpenAPI v3 documents under %s", specDir)
	}
	defs := map[string]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for name, s := range doc.Components.Schemas {
			if _, seen := defs[name]; seen {
				continue
			}
			for _, g := range gvksOf(s) {
				reg.urls[g] = rootURL + "#/definitions/" + name
			}
			defs[name] = convert(s)
		}
	}
	if _, ok := defs[objectMeta]; !ok {
		return nil, fmt.Errorf("%s not found under %s", objectMeta, specDir)
	}
	if err := reg.compiler.AddResource(rootURL, map[string]any{"definitions": defs}); err != nil {
		return nil, err
	}

	for _, dir := range crdDirs {
		crds, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(crds) == 0 {
			return nil, fmt.Errorf("no CRDs under %s", dir)
		}
		for _, f := range crds {
			if err := reg.addCRD(f); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return reg, nil
}

func gvksOf(s map[string]any) []gvk {
	var out []gvk
	list, _ := s["x-kubernetes-group-version-kind"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		out = append(out, gvk{g, v, k})
	}
	return out
}

// addCRD registers the schema of every served version of a CustomResourceDefinition. The
// apiserver validates a custom object's metadata as ObjectMeta, whatever the CRD says.
func (reg *registry) addCRD(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return fmt.Errorf("not a CustomResourceDefinition (kind %q)", crd.Kind)
	}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		s := convert(v.Schema.OpenAPIV3Schema).(map[string]any)
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			s["properties"] = props
		}
		props["metadata"] = map[string]any{"$ref": rootURL + "#/definitions/" + objectMeta}
		g := gvk{crd.Spec.Group, v.Name, crd.Spec.Names.Kind}
		url := "https://schemas.linewatch.invalid/crd/" + g.String() + ".json"
		if err := reg.compiler.AddResource(url, s); err != nil {
			return err
		}
		reg.urls[g] = url
	}
	return nil
}

// convert turns an OpenAPI 3.0 / Kubernetes structural schema into a strict draft-4 JSON schema:
//   - "$ref": "#/components/schemas/X" → "#/definitions/X" of the merged document;
//   - "nullable": true → null is an allowed type;
//   - "x-kubernetes-int-or-string": true → integer or string;
//   - an object schema with properties and no additionalProperties gets additionalProperties:
//     false (unknown fields are errors, as with strict field validation), unless it says
//     x-kubernetes-preserve-unknown-fields;
//   - x-kubernetes-embedded-resource objects may carry apiVersion, kind and metadata.
func convert(node any) any {
	switch n := node.(type) {
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = convert(v)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			switch k {
			case "properties", "patternProperties", "definitions":
				props := map[string]any{}
				for name, sub := range v.(map[string]any) {
					props[name] = convert(sub)
				}
				out[k] = props
			case "$ref":
				ref, _ := v.(string)
				out[k] = strings.Replace(ref, compRefPref, rootURL+"#/definitions/", 1)
			case "description", "example", "default", "enum", "x-kubernetes-group-version-kind":
				out[k] = v
			default:
				out[k] = convert(v)
			}
		}
		if nullable, _ := n["nullable"].(bool); nullable {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		if ios, _ := n["x-kubernetes-int-or-string"].(bool); ios {
			delete(out, "type")
			out["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
		}
		if emb, _ := n["x-kubernetes-embedded-resource"].(bool); emb {
			props, _ := out["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				out["properties"] = props
			}
			for _, f := range []string{"apiVersion", "kind"} {
				if _, ok := props[f]; !ok {
					props[f] = map[string]any{"type": "string"}
				}
			}
			if _, ok := props["metadata"]; !ok {
				props["metadata"] = map[string]any{"type": "object"}
			}
		}
		_, hasProps := n["properties"]
		_, hasAdditional := n["additionalProperties"]
		preserve, _ := n["x-kubernetes-preserve-unknown-fields"].(bool)
		if hasProps && !hasAdditional && !preserve {
			out["additionalProperties"] = false
		}
		return out
	default:
		return node
	}
}

func (reg *registry) schemaFor(g gvk) (*jsonschema.Schema, error) {
	if s, ok := reg.compiled[g]; ok {
		return s, nil
	}
	url, ok := reg.urls[g]
	if !ok {
		return nil, fmt.Errorf("unknown kind %s: not in the Kubernetes API nor in the known CRDs (KEDA, prometheus-operator)", g)
	}
	s, err := reg.compiler.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compiling the schema of %s: %w", g, err)
	}
	reg.compiled[g] = s
	return s, nil
}

// validateKustomization renders dir and validates every object; returns the number of problems.
func validateKustomization(reg *registry, dir string, printObjects bool) (int, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return 0, err
	}
	problems := 0
	for _, res := range resMap.Resources() {
		raw, err := res.MarshalJSON()
		if err != nil {
			return 0, err
		}
		if printObjects {
			fmt.Println(string(raw))
		}
		id := fmt.Sprintf("%s %s/%s", res.GetKind(), res.GetNamespace(), res.GetName())
		group, version := splitAPIVersion(res.GetApiVersion())
		schema, err := reg.schemaFor(gvk{group, version, res.GetKind()})
		if err == nil {
			var inst any
			if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(raw)); err == nil {
				err = schema.Validate(inst)
			}
		}
		if err != nil {
			for _, line := range describe(err) {
				fmt.Fprintf(os.Stderr, "%s: %s: %s\n", dir, id, line)
				problems++
			}
		}
	}
	if problems == 0 {
		fmt.Fprintf(os.Stderr, "%s: %d objects valid\n", dir, resMap.Size())
	}
	return problems, nil
}

func splitAPIVersion(apiVersion string) (string, string) {
	if group, version, ok := strings.Cut(apiVersion, "/"); ok {
		return group, version
	}
	return "", apiVersion
}

// describe flattens a validation error into one line per failing leaf ("at /json/pointer: why").
func describe(err error) []string {
	printer := message.NewPrinter(language.English)
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []string{err.Error()}
	}
	seen := map[string]bool{}
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			line := fmt.Sprintf("at /%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(printer))
			if !seen[line] {
				seen[line] = true
				lines = append(lines, line)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	sort.Strings(lines)
	return lines
}
