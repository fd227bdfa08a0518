from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0003_mail_templates"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="oauth_client_id",
            field=models.CharField(blank=True, max_length=255, verbose_name="OAuth2 client ID"),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_client_secret",
            field=models.CharField(
                blank=True,
                help_text="Stored as given, in the database.",
                max_length=255,
                verbose_name="OAuth2 client secret",
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_provider",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "None: the access token, if any, is renewed by hand"),
                    ("microsoft", "Microsoft 365"),
                    ("google", "Google"),
                    ("other", "Another provider (its token endpoint given)"),
                ],
                help_text="Set: Comptoir renews the access token before it runs out, with the refresh token (or, for Microsoft 365 application access, the client secret).",
                max_length=10,
                verbose_name="OAuth2 provider",
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_refresh_token",
            field=models.TextField(
                blank=True,
                help_text="Given by the provider when someone signs in and consents; replaced by the one the provider hands out at each renewal, if it does. Stored in the database.",
                verbose_name="OAuth2 refresh token",
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_scope",
            field=models.CharField(
                blank=True,
                help_text="Blank: the provider's IMAP scope.",
                max_length=500,
                verbose_name="OAuth2 scope",
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_tenant",
            field=models.CharField(
                blank=True,
                help_text="The directory (tenant) ID, or a domain of it. Blank: organizations.",
                max_length=100,
                verbose_name="Microsoft 365 tenant",
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_token_expires_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="access token expires at"
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="oauth_token_url",
            field=models.CharField(
                blank=True,
                help_text="For another provider only: its token endpoint (https://…).",
                max_length=500,
                verbose_name="OAuth2 token endpoint",
            ),
        ),
        migrations.AlterField(
            model_name="mailbox",
            name="imap_oauth_token",
            field=models.TextField(
                blank=True,
                help_text="For Microsoft 365 and Google (XOAUTH2). When set, it is used instead of the password. With an OAuth2 provider, Comptoir renews it itself. Stored as given, in the database.",
                verbose_name="IMAP OAuth2 access token",
            ),
        ),
    ]
