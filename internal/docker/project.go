package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
)

// LoadProject loads file as a compose project named projectName (empty: the
// file's `name:` or its directory, as docker compose does) with compose-go,
// the way `docker compose -f file -p projectName` does: variables are
// interpolated from the environment and from a .env file beside file,
// relative paths resolve against file's directory. It needs no Docker engine.
//
// It then stamps every service with Compose's own labels (project, service,
// working dir, config files, oneoff=False): containers created from the
// project carry them, and Compose finds its containers by them.
//
// The error names the file and says what is wrong (missing file, YAML syntax,
// compose schema, unknown variable...).
func LoadProject(ctx context.Context, file, projectName string) (*types.Project, error) {
	return LoadProjectContent(ctx, file, nil, projectName)
}

// LoadProjectContent is LoadProject of content as if it were file's (nil:
// read file): what a --check run staged for a file it did not write. The
// content is loaded from a temporary copy, with file's directory as the
// project directory, so relative paths and .env resolve as for file itself.
func LoadProjectContent(ctx context.Context, file string, content []byte, projectName string) (*types.Project, error) {
	return loadProject(ctx, file, content, projectName, nil)
}

// loadProject is LoadProjectContent with env, values for the file's ${NAME}
// interpolation that win over the environment and .env.
func loadProject(ctx context.Context, file string, content []byte, projectName string, env map[string]string) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("compose file %s: %w", file, err)
	}
	path := abs
	if content == nil {
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("compose file %s: %w (check the task's file attribute; relative paths resolve against the directory zdplay runs in)", file, err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("compose file %s is a directory: name the compose file itself (e.g. %s)", file, filepath.Join(file, "compose.yaml"))
		}
	} else {
		tmp, err := os.CreateTemp("", "zdplay-compose-*"+filepath.Ext(abs))
		if err != nil {
			return nil, fmt.Errorf("compose file %s: staging its content: %w", file, err)
		}
		defer os.Remove(tmp.Name())
		_, werr := tmp.Write(content)
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("compose file %s: staging its content: %w", file, werr)
		}
		path = tmp.Name()
	}
	quietSDK()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithOsEnv,
		cli.WithEnvFiles(), // .env beside the file, unless COMPOSE_DISABLE_ENV_FILE
		cli.WithDotEnv,
		cli.WithEnv(envList(env)),
		cli.WithName(projectName),
	)
	if err != nil {
		return nil, fmt.Errorf("compose project %q from %s: %w", projectName, file, err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), path, abs)
		// compose-go's JSON-schema wording for an unknown attribute
		msg = strings.ReplaceAll(msg, " false schema", ": not a compose attribute (misspelled?)")
		return nil, fmt.Errorf("compose file %s does not load: %s (fix the YAML syntax or compose schema error, then run again; `docker-compose -f %s config` shows the same check)", file, msg, file)
	}
	project.ComposeFiles = []string{abs}
	if len(project.Services) == 0 {
		return nil, fmt.Errorf("compose file %s defines no service (is every service behind a profile?)", file)
	}
	addComposeLabels(project)
	return project, nil
}

// addComposeLabels sets on every service the labels Compose's own loader sets
// (compose's postProcessProject): without them Up cannot find the containers
// it created and fails on name conflicts.
func addComposeLabels(project *types.Project) {
	for name, s := range project.Services {
		s.CustomLabels = map[string]string{
			api.ProjectLabel:     project.Name,
			api.ServiceLabel:     name,
			api.VersionLabel:     api.ComposeVersion,
			api.WorkingDirLabel:  project.WorkingDir,
			api.ConfigFilesLabel: strings.Join(project.ComposeFiles, ","),
			api.OneoffLabel:      "False",
		}
		project.Services[name] = s
	}
}

// ServiceHash is the config hash Compose stamps on a service's containers
// (label com.docker.compose.config-hash): Compose's own function, so the two
// agree; build, pull_policy, scale, depends_on and profiles do not count.
func ServiceHash(s types.ServiceConfig) (string, error) {
	return compose.ServiceHash(s)
}

// service returns the named service of project, or an error listing the
// services it has.
func service(project *types.Project, name string) (types.ServiceConfig, error) {
	s, ok := project.Services[name]
	if !ok {
		return types.ServiceConfig{}, fmt.Errorf("compose project %s has no service %q (its services: %s)",
			project.Name, name, strings.Join(project.ServiceNames(), ", "))
	}
	return s, nil
}

// imageOf is the image a service runs: its image, or the name Compose gives
// the image it builds.
func imageOf(project *types.Project, s types.ServiceConfig) string {
	return api.GetImageNameOrDefault(s, project.Name)
}

// envList is env as NAME=VALUE pairs, sorted.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
