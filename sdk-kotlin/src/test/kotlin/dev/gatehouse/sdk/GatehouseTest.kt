package dev.gatehouse.sdk

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.util.Base64
import java.util.UUID
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

private const val CHROME =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " +
        "Chrome/126.0.0.0 Safari/537.36"

/**
 * The Kotlin binding against a real `gatehouse serve` that this class starts: the fingerprint and
 * the signature vectors agree with sdk-core, a token signed here passes the server's Verify, and
 * calls and failures look like Kotlin (suspend functions, a sealed exception per reason).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GatehouseTest {
    private lateinit var server: Process
    private lateinit var dataDir: File
    private lateinit var endpoint: String
    private val adminToken = "adm_" + UUID.randomUUID().toString().replace("-", "")
    private lateinit var tenantId: String
    private lateinit var publishableKey: String
    private lateinit var secretKey: String

    /** The sample phone of sdk-core's known-answer test. */
    private val androidPhone = DeviceAttributes(
        platform = "android",
        osName = "Android",
        osVersion = "14.0.2",
        locale = "en_US",
        timezone = "America/Chicago",
        screenWidth = 1080u,
        screenHeight = 2400u,
        screenDensity = 2.625f,
        cpuCount = 8u,
        memoryMb = 7634u,
        installId = "3f9a1c0e5b7d4a21",
        manufacturer = "samsung",
        model = "SM-S911B",
        buildTags = "release-keys",
        batteryLevel = 0.81f,
    )

    @BeforeAll
    fun startServer() {
        val binary = System.getProperty("gatehouse.bin")?.takeIf { it.isNotBlank() && it != "\${gatehouse.bin}" }
            ?: error("pass the gatehouse binary: mvn test -Dgatehouse.bin=.../debug/gatehouse")
        dataDir = Files.createTempDirectory("gatehouse-kotlin-").toFile()
        val grpcPort = freePort()
        val httpPort = freePort()
        server = ProcessBuilder(
            binary, "serve",
            "--listen", "127.0.0.1:$grpcPort",
            "--http-listen", "127.0.0.1:$httpPort",
            "--data-dir", File(dataDir, "data").path,
        ).apply {
            environment()["GATEHOUSE_ADMIN_TOKEN"] = adminToken
            environment()["GATEHOUSE_RDNS_ENABLED"] = "false"
            redirectErrorStream(true)
            redirectOutput(File(dataDir, "server.log"))
        }.start()
        waitHealthy("http://127.0.0.1:$httpPort/healthz")
        endpoint = "http://127.0.0.1:$grpcPort"

        val created = call(GatehouseClient(endpoint, adminToken), "AdminService/CreateTenant", JSONObject().put("name", "kotlin"))
        tenantId = created.getJSONObject("tenant").getString("tenant_id")
        publishableKey = created.getString("publishable_key")
        secretKey = created.getString("secret_key")
    }

    @AfterAll
    fun stopServer() {
        if (::server.isInitialized) {
            server.destroy()
            server.waitFor()
        }
        if (::dataDir.isInitialized) dataDir.deleteRecursively()
    }

    @Test
    fun `the fingerprint of the sample phone is the core's known answer`() {
        val fp = fingerprint(androidPhone)
        assertEquals("dev_c27ce081c8f35d0578ea25208f2cf54f", fp.deviceId)
        assertEquals(EnvRisks(), fp.env)
        assertTrue("install_id" in fp.components && fp.components.values.all { it.length == 16 })

        val rooted = fingerprint(androidPhone.copy(buildTags = "test-keys", osVersion = "14.0.9"))
        assertEquals(fp.deviceId, rooted.deviceId, "volatile attributes and env flags keep the id")
        assertEquals(EnvRisks(root = true), rooted.env)
    }

    @Test
    fun `every signature vector gives the core's token`() {
        val vectors = JSONArray(File(System.getProperty("gatehouse.vectors")).readText())
        assertTrue(vectors.length() >= 8)
        for (i in 0 until vectors.length()) {
            val case = vectors.getJSONObject(i)
            val env = case.getJSONArray("env").map { it as String }.toSet()
            val request = SignableRequest(
                path = case.getString("path"),
                query = case.getString("query"),
                body = Base64.getDecoder().decode(case.getString("body_b64")),
                deviceId = case.getString("device_id"),
                env = EnvRisks(
                    root = "root" in env,
                    hack = "hack" in env,
                    virtualEnv = "virtualEnv" in env,
                    crawler = "crawler" in env,
                ),
            )
            val signer = RequestSigner(case.getString("key_id"), case.getString("secret_b64url"))
            val token = signer.signAt(request, case.getLong("timestamp_ms"), hex(case.getString("nonce_hex")))
            assertEquals(case.getString("token"), token, case.getString("name"))
            assertEquals(case.getString("canonical_query"), canonicalQuery(case.getString("query")), case.getString("name"))
        }
    }

    @Test
    fun `a token signed here passes the server's verification`() {
        val created = call(admin(), "AdminService/CreateSigningKey", JSONObject().put("tenant_id", tenantId))
        val signer = RequestSigner(created.getJSONObject("key").getString("key_id"), created.getString("secret"))
        val fp = fingerprint(androidPhone)
        val body = """{"user":"alice"}""".toByteArray()
        val token = signer.sign(SignableRequest(path = "/api/login", query = "b=2&a=1", body = body, deviceId = fp.deviceId, env = fp.env))
        assertNotEquals(token, signer.sign(SignableRequest(path = "/api/login")), "a fresh nonce each time")

        val verify = { sentBody: ByteArray ->
            call(
                secret(), "VerifyService/Verify",
                JSONObject()
                    .put("partner_code", tenantId)
                    .put("path", "/api/login")
                    .put("sign", token)
                    .put("query", "a=1&b=2")
                    .put("body", Base64.getEncoder().encodeToString(sentBody)),
            )
        }
        val answer = verify(body)
        assertEquals("VERIFY_ENVELOPE_CODE_OK", answer.getString("code"), answer.toString())
        assertEquals("VERIFY_STATUS_PASS", answer.getJSONObject("data").getString("status"), answer.toString())
        assertEquals(fp.deviceId, answer.getJSONObject("data").getString("device_id"))
        val tampered = verify("{}".toByteArray())
        assertEquals("VERIFY_STATUS_QUERY_OR_BODY_MISMATCH", tampered.getJSONObject("data").getString("status"))
    }

    @Test
    fun `a signal from the server and one from the app`() {
        val user = "kt-" + UUID.randomUUID().toString().take(8)
        val fromServer = call(
            secret(), "SignalService/SendSignal",
            JSONObject()
                .put("idempotency_key", "idem-$user")
                .put("type", "login")
                .put("source", "SIGNAL_SOURCE_SERVER")
                .put("identifiers", JSONObject().put("user_id", user))
                .put("ip", "192.0.2.10")
                .put("user_agent", CHROME),
        )
        assertTrue(fromServer.getString("signal_id").startsWith("sig_"))
        assertEquals(user, fromServer.getJSONObject("identifiers").getString("user_id"))
        assertTrue(fromServer.getLong("finished_ms") >= fromServer.getLong("started_ms"))

        val fp = fingerprint(androidPhone)
        val fromApp = call(
            GatehouseClient(endpoint, publishableKey), "SignalService/SendSignal",
            JSONObject()
                .put("type", "open")
                .put("source", "SIGNAL_SOURCE_APP")
                .put("identifiers", JSONObject().put("user_id", user))
                .put("device", JSONObject().put("device_id", fp.deviceId).put("components", JSONObject(fp.components))),
        )
        assertEquals(fp.deviceId, fromApp.getJSONObject("device").getString("device_id"))
    }

    @Test
    fun `check visitor lets a browser in and flags a script, concurrently`() = runBlocking {
        val client = secret()
        val visitors = listOf(CHROME, "python-requests/2.32").map { ua ->
            async {
                JSONObject(
                    client.callJson(
                        "BlockerService/CheckVisitor",
                        JSONObject().put("ip", "81.2.69.160").put("ua", ua).put("url", "/shop").toString(),
                    ),
                ).getJSONObject("ip_status")
            }
        }.awaitAll()
        assertEquals("VISITOR", visitors[0].getString("detect_activity_label"))
        assertEquals(false, visitors[0].getBoolean("block_access"))
        assertEquals(true, visitors[1].getBoolean("is_bot"))
        assertEquals(true, visitors[1].getBoolean("block_access"))
    }

    @Test
    fun `a wrong key is GatehouseException Unauthorized with its reason`() {
        val error = assertFailsWith<GatehouseException.Unauthorized> {
            call(GatehouseClient(endpoint, "sk_" + "0".repeat(40)), "BlockerService/CheckVisitor", JSONObject().put("ip", "81.2.69.160").put("ua", CHROME))
        }
        assertEquals("UNAUTHORIZED", error.reason())
        assertTrue(error.detail.isNotBlank())
        assertEquals(error.detail, error.toString())

        val wrongKind = assertFailsWith<GatehouseException> {
            call(GatehouseClient(endpoint, publishableKey), "BlockerService/CheckVisitor", JSONObject().put("ip", "81.2.69.160").put("ua", CHROME))
        }
        assertEquals("UNAUTHORIZED", wrongKind.reason())
    }

    @Test
    fun `invalid input names the field`() {
        val badIp = assertFailsWith<GatehouseException.InvalidRequest> {
            call(secret(), "BlockerService/CheckVisitor", JSONObject().put("ip", "not-an-ip").put("ua", CHROME))
        }
        assertEquals("ip", badIp.field)
        val badSecret = assertFailsWith<GatehouseException.InvalidRequest> { RequestSigner("k1", "short") }
        assertEquals("secret", badSecret.field)
        assertEquals("INVALID_REQUEST", badSecret.reason())
    }

    @Test
    fun `the binding lists every rpc of the contract`() {
        val rpcs = methods()
        assertTrue("SignalService/SendSignal" in rpcs && "VerifyService/Verify" in rpcs && "AdminService/CreateTenant" in rpcs)
        assertEquals(rpcs.size, rpcs.toSet().size)
    }

    private fun admin() = GatehouseClient(endpoint, adminToken)

    private fun secret() = GatehouseClient(endpoint, secretKey)

    private fun call(client: GatehouseClient, method: String, request: JSONObject): JSONObject =
        runBlocking { JSONObject(client.callJson(method, request.toString())) }

    private fun freePort(): Int = ServerSocket(0).use { it.localPort }

    private fun waitHealthy(url: String) {
        val deadline = System.nanoTime() + 60_000_000_000L
        while (System.nanoTime() < deadline) {
            check(server.isAlive) { "gatehouse exited:\n" + File(dataDir, "server.log").readText() }
            val healthy = runCatching {
                (URI(url).toURL().openConnection() as HttpURLConnection).run {
                    connectTimeout = 1000
                    readTimeout = 1000
                    try { responseCode == 200 } finally { disconnect() }
                }
            }.getOrDefault(false)
            if (healthy) return
            Thread.sleep(50)
        }
        error("gatehouse was not healthy within 60 s:\n" + File(dataDir, "server.log").readText())
    }

    private fun hex(text: String): ByteArray = ByteArray(text.length / 2) { text.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
}
