/*
 * jagajalan_clientid: Mosquitto 2.x plugin (plugin API v5) that ties a client id to the
 * username it authenticates with.
 *
 * The rule: a client that gives username U may connect only with client id U, or with a
 * client id that begins with "U." (U followed by a dot, then anything). Everything else is
 * refused with CONNACK "not authorized", and one notice line names the username and the
 * client id (never the password).
 *
 * Why: the ACL (acl_file) is keyed on the username, but Mosquitto lets any authenticated
 * client use any client id, and a second connection with a client id that is in use takes
 * the session over. Without this rule gateway A, with its own valid password, could connect
 * as client id "B": the broker drops gateway B and publishes B's Last Will ("offline"), or,
 * with an ingest worker's id, takes its persistent session and the messages queued for it.
 *
 * What keeps working:
 *   - a gateway connects as client id == username (the gateway id);
 *   - other clients with the gateway's credentials use "<gateway>.<something>", e.g.
 *     `gateway doctor` as "<gateway>.doctor.<8 hex>", next to the running gateway;
 *   - several clients share one username with distinct ids: "ingest.1", "ingest.2".
 * The separator is a dot because gateway ids ([a-z0-9][a-z0-9-]{0,62}) never contain one:
 * with "-", user "srl-01" could take "srl-01-x", the id of gateway "srl-01-x". For the same
 * reason a username that contains a dot is refused outright: user "a" could otherwise take
 * the id "a.b" of user "a.b".
 *
 * How: a MOSQ_EVT_BASIC_AUTH callback. It answers MOSQ_ERR_PLUGIN_DEFER for an allowed
 * client id, so the next check (password_file) still decides whether the password is right,
 * and MOSQ_ERR_AUTH otherwise (the first callback that does not defer decides; Mosquitto
 * 2.0.11 runs plugin callbacks before the password_file check, which tests/deploy/
 * test_broker_clientid.py verifies on the real broker).
 *
 * What it does not do:
 *   - it does not check passwords (password_file does) nor topics (acl_file does);
 *   - clients without a username are deferred untouched: allow_anonymous false refuses them;
 *   - it is not consulted for clients that use MQTT 5 extended authentication (an
 *     Authentication Method in CONNECT) or TLS listeners with use_identity_as_username /
 *     use_subject_as_username: Mosquitto skips basic auth for those (the shipped
 *     mosquitto.conf uses neither);
 *   - an empty client id is refused (Mosquitto assigns "auto-..." before this check), so
 *     every client must choose its id;
 *   - it takes no options: any plugin_opt_* line is a configuration error.
 *
 * Build: deploy/mosquitto/plugin/build.sh (headers from Debian mosquitto-dev and
 * libmosquitto-dev, or Alpine mosquitto-dev).
 */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define PLUGIN_NAME "jagajalan_clientid"

static mosquitto_plugin_id_t *plugin_id = NULL;

/* True if client_id is username itself or begins with username followed by a dot. */
static bool client_id_allowed(const char *username, const char *client_id)
{
	size_t n = strlen(username);

	if (strncmp(client_id, username, n) != 0) {
		return false;
	}
	return client_id[n] == '\0' || client_id[n] == '.';
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *client_id;

	(void)event;
	(void)userdata;

	if (ed->username == NULL) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	client_id = mosquitto_client_id(ed->client);
	if (client_id == NULL) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				PLUGIN_NAME ": refused username '%s' without a client id", ed->username);
		return MOSQ_ERR_AUTH;
	}
	if (strchr(ed->username, '.') != NULL) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				PLUGIN_NAME ": refused username '%s' (client id '%s'): a username must not "
				"contain '.', the separator of its client ids", ed->username, client_id);
		return MOSQ_ERR_AUTH;
	}
	if (!client_id_allowed(ed->username, client_id)) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				PLUGIN_NAME ": refused client id '%s' for username '%s': the client id must be "
				"'%s' or begin with '%s.'", client_id, ed->username, ed->username, ed->username);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for (i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;

	if (option_count > 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
				PLUGIN_NAME ": takes no options, but got plugin_opt_%s", options[0].key);
		return MOSQ_ERR_INVAL;
	}
	plugin_id = identifier;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;

	if (plugin_id == NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
}
