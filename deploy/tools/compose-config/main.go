// compose-config: `docker compose config` for machines without the compose plugin.
//
// Loads a compose file with compose-spec/compose-go (the loader docker compose itself uses:
// schema validation, interpolation, merging of anchors/extends) and prints the resolved model,
// as YAML or, with -json, as JSON. Exit status 1 on any error. Profiles named in
// COMPOSE_PROFILES are activated, as with docker compose.
//
//	go run ./deploy/tools/compose-config [-json] docker-compose.yml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	asJSON := flag.Bool("json", false, "print the resolved model as JSON instead of YAML")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-config [-json] COMPOSE_FILE")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(
		[]string{flag.Arg(0)},
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err == nil {
		project, loadErr := opts.LoadProject(context.Background())
		err = loadErr
		if err == nil {
			var out []byte
			if *asJSON {
				out, err = project.MarshalJSON()
			} else {
				out, err = project.MarshalYAML()
			}
			if err == nil {
				_, err = os.Stdout.Write(out)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid compose file:", err)
		os.Exit(1)
	}
}
