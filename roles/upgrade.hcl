# upgrade: move every replica to var.version, one at a time, so that the
# others keep serving: drain it in nginx, recreate it, wait until it is
# healthy, put it back. Replicas already at the release are not touched.
#
# If a replica does not turn healthy, the rescue rolls every replica back to
# the release recorded by the last good run, the same way, and the run
# fails saying so.
#
# Interrupted (Ctrl-C, kill -9, a lost machine), it is resumed by running it
# again: a replica already at the release is not recreated, but it must be
# healthy before the run goes on, since the interrupted run may have left it
# drained and still booting, and the next drain or the final render puts it
# back in service.
tags = ["upgrade"]

# One run at a time on this deployment: a second one is refused at once,
# naming this one. Held until the run ends (or its process dies).
task "lock" "project" {
  path = local.lock
}

task "template" "compose file" {
  src  = "../templates/docker-compose.yml.tmpl"
  dest = local.compose
}

# Fails before anything is drained when an image is missing, the rendered
# file is invalid or the daemon does not answer.
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

  # Up to date: healthy before anything else is drained (a no-op wait of a
  # few hundred ms on a converged deployment).
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
    task "template" "compose file at the last good release" {
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = local.previous }
    }

    # The failed replica first: it is drained already, and the others stay
    # in service while it is restored.
    serial "rollback" {
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
          vars = { down = [each.value], version = local.previous }
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
          vars = { down = [], version = local.previous }
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
      fail_msg = "release ${var.version} did not turn healthy: every replica was rolled back to ${local.previous}"
    }
  }
}

# Every replica in service: a no-op after a clean upgrade, and what brings
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

# When this run changed the release, the one before is what -t rollback
# returns to. Written before last-good-release, so that a run interrupted in
# between records it again when resumed.
task "template" "record previous release" {
  when = local.previous != var.version
  src  = "../templates/release.tmpl"
  dest = local.previous_release
  vars = { version = local.previous }
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
}
