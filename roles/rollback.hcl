# rollback: return a healthy deployment to the release that ran before the
# last successful upgrade (DIR/previous-release, written by the upgrade that
# changed the release), one replica at a time the way an upgrade goes: drain
# it, recreate it, wait until it is healthy, put it back. Tagged never, so it
# runs only when asked for: -t rollback (-e version is not used).
#
# Afterwards last-good-release names the release rolled back to, so a later
# failed upgrade returns there, and previous-release is left as it is: a
# second rollback changes nothing. Interrupted, it is resumed by running it
# again. Should the release rolled back to not turn healthy, the rescue
# returns every replica to the release that ran before the rollback.
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
  project = var.project
}

serial "replica" {
  for_each = local.services

  task "compose_outdated" "outdated" {
    file     = local.compose
    project  = var.project
    service  = each.value
    register = "outdated"
  }

  # Up to date (an interrupted rollback may have left it drained, booting):
  # healthy before anything else is drained.
  task "wait_healthy" "in service" {
    when    = !outdated.changed
    file    = local.compose
    project = var.project
    service = each.value
    timeout = var.health_timeout
  }

  block "replace" {
    when = outdated.changed

    task "template" "drain" {
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { down = [each.value] }
    }
    task "proxy_reload" "drain" {
      file    = local.compose
      project = var.project
      conf    = local.conf
    }
    # A run killed while it recreated this replica may have left a stopped
    # container or a half-made replacement (Compose creates the new one
    # before it stops the old), which Compose cannot recreate over: then
    # remove them all (the replica is drained) and start afresh. Looked at
    # now, not before the drain: a request the killed run sent may have
    # landed since.
    task "compose_outdated" "after drain" {
      file     = local.compose
      project  = var.project
      service  = each.value
      register = "drained"
    }
    task "compose_remove" "leftovers of a killed run" {
      when     = length(regexall("outdated: container [0-9a-f]+ is ", drained.msg)) > 0
      project  = var.project
      services = [each.value]
    }
    task "compose_recreate" "recreate" {
      file    = local.compose
      project = var.project
      service = each.value
    }
    task "wait_healthy" "healthy" {
      file    = local.compose
      project = var.project
      service = each.value
      timeout = var.health_timeout
    }
    task "template" "undrain" {
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { down = [] }
    }
    task "proxy_reload" "undrain" {
      file    = local.compose
      project = var.project
      conf    = local.conf
    }
  }

  rescue {
    task "template" "compose file at the release before the rollback" {
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = local.previous }
    }

    # The failed replica first: it is drained already, and the others stay
    # in service while it is restored.
    serial "restore" {
      for_each = concat([each.value], [for s in local.services : s if s != each.value])

      task "compose_outdated" "outdated" {
        file     = local.compose
        project  = var.project
        service  = each.value
        register = "diverged"
      }

      block "restore" {
        when = diverged.changed

        task "template" "drain" {
          src  = "../templates/nginx.conf.tmpl"
          dest = local.conf
          vars = { down = [each.value] }
        }
        task "proxy_reload" "drain" {
          file    = local.compose
          project = var.project
          conf    = local.conf
        }
        task "compose_recreate" "recreate" {
          file    = local.compose
          project = var.project
          service = each.value
        }
        task "wait_healthy" "healthy" {
          file    = local.compose
          project = var.project
          service = each.value
          timeout = var.health_timeout
        }
        task "template" "undrain" {
          src  = "../templates/nginx.conf.tmpl"
          dest = local.conf
          vars = { down = [] }
        }
        task "proxy_reload" "undrain" {
          file    = local.compose
          project = var.project
          conf    = local.conf
        }
      }
    }

    task "assert" "rolled back" {
      that     = [false]
      fail_msg = "release ${local.target} did not turn healthy: the rollback was undone, every replica runs ${local.previous} again"
    }
  }
}

# Every replica in service: a no-op after a clean rollback, and what brings
# the proxy back in line when an earlier run was interrupted mid-way.
task "template" "all replicas in service" {
  src  = "../templates/nginx.conf.tmpl"
  dest = local.conf
  vars = { down = [] }
}
task "proxy_reload" "all replicas in service" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
  vars = { version = local.target }
}
