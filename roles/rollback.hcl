# rollback: return a healthy deployment to the release that ran before the
# last successful upgrade (DIR/previous-release, written by the upgrade that
# changed the release), one replica at a time the way an upgrade goes: drain
# it, recreate it, wait until it is healthy, put it back. Tagged never, so it
# runs only when asked for: -t rollback (-e version is not used).
#
# Afterwards last-good-release names the release rolled back to, so a later
# failed upgrade returns there, and previous-release is left as it is: a
# second rollback changes nothing. Interrupted, it is resumed by running it
# again. Should the release rolled back to not turn healthy, every replica
# returns to the release that ran before the rollback.
tags = ["never", "rollback"]

vars = {
  # "" when no upgrade has changed the release here yet.
  target = fileexists(local.previous_release) ? trimspace(file(local.previous_release)) : ""
}

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "assert" "a release to roll back to" {
  that     = [local.target != ""]
  fail_msg = "nothing to roll back to: ${local.previous_release} does not exist; an upgrade that changes the release records the one before it there"
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
  vars = { version = local.target }
}

# Fails before anything is drained when the release's image is gone, the
# rendered file is invalid or the daemon does not answer.
task "compose_check" "images and daemon" {
  file    = local.compose
  project = local.project
}

include "rollout" {
  vars = {
    stack      = local.stack
    rolling_to = local.target
    fallback   = local.previous
    services   = local.services
  }
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
  vars = { version = local.target }
}
