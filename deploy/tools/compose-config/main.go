// compose-config: `docker compose config` for machines without the compose plugin.
//
// Loads a compose file with compose-spec/compose-go (the loader docker compose itself uses:
// schema validation, interpolation, merging of anchors/extends) and prints the resolved model.
// Exit status 1 on any error. Profiles named in COMPOSE_PROFILES are activated, as with docker
// compose.
//
//	go run ./deploy/tools/compose-config docker-compose.yml
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config COMPOSE_FILE")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(
		[]string{os.Args[1]},
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
			if out, err = project.MarshalYAML(); err == nil {
				_, err = os.Stdout.Write(out)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid compose file:", err)
		os.Exit(1)
	}
}
