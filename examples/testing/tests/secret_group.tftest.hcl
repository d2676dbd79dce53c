# Runs against the emulator: start it with ../emulator.json and export TFY_HOST and TFY_API_KEY
# (see the README). The runs share one state, in order; what they made is destroyed at the end.

variables {
  name = "tftest-app"
  secrets = {
    DB_USER   = "app"
    LOG_LEVEL = "info"
  }
}

run "create" {
  assert {
    condition     = output.fqn == "acme:tftest-app"
    error_message = "The group's FQN is <tenant>:<name>."
  }

  assert {
    condition = output.secret_fqns == tomap({
      DB_USER   = "tfy-secret://acme:tftest-app:DB_USER"
      LOG_LEVEL = "tfy-secret://acme:tftest-app:LOG_LEVEL"
    })
    error_message = "Each key is referenced as tfy-secret://<tenant>:<group>:<key>."
  }

  assert {
    condition     = output.secret_versions == tomap({ DB_USER = 1, LOG_LEVEL = 1 })
    error_message = "A new secret starts at version 1."
  }
}

run "change_one_value" {
  variables {
    secrets = {
      DB_USER   = "app"
      LOG_LEVEL = "debug"
    }
  }

  assert {
    condition     = output.secret_versions == tomap({ DB_USER = 1, LOG_LEVEL = 2 })
    error_message = "Only the changed key gets a new version."
  }

  assert {
    condition     = output.secret_fqns["LOG_LEVEL"] == "tfy-secret://acme:tftest-app:LOG_LEVEL"
    error_message = "A new version keeps the secret's FQN."
  }
}

run "add_a_key" {
  variables {
    secrets = {
      DB_USER   = "app"
      LOG_LEVEL = "debug"
      API_URL   = "https://api.example.com"
    }
  }

  assert {
    condition     = output.secret_versions == tomap({ API_URL = 1, DB_USER = 1, LOG_LEVEL = 2 })
    error_message = "A new key starts at version 1 and the others keep theirs."
  }

  assert {
    condition     = output.secret_fqns["API_URL"] == "tfy-secret://acme:tftest-app:API_URL"
    error_message = "A new key gets its FQN."
  }
}
