# teardown: remove the project's containers, network and volumes, and dir
# with its state files (app.hcl and bluegreen.hcl alike). Tagged never, so it
# runs only when asked for: -t teardown.
tags = ["never", "teardown"]

# Not while another run works on the deployment. With neither a lock file
# nor a compose file there is nothing here to guard, and taking the lock
# would create the directory only for the task below to remove it.
task "lock" "project" {
  when = fileexists(local.lock) || fileexists(local.compose)
  path = local.lock
}

task "compose_down" "stack" {
  file    = local.compose
  project = local.project
  volumes = true
}

task "file" "deploy dir" {
  path  = local.dir
  state = "absent"
}
