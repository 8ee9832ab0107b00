//! The SageMaker built-in XGBoost image URIs (the default algorithm image).

/// The built-in XGBoost container version used by default.
pub const XGBOOST_VERSION: &str = "1.7-1";

/// (region, account of the SageMaker framework registry) for the built-in XGBoost image, every
/// region where SageMaker publishes it. Facts read from the SageMaker Python SDK's image
/// configuration (`image_uri_config/xgboost.json`, the same registries for every
/// `0.90-1`..`3.x` version); `tests/xgboost_regions.rs` checks that none is missing.
pub const XGBOOST_ACCOUNTS: [(&str, &str); 37] = [
    ("af-south-1", "510948584623"),
    ("ap-east-1", "651117190479"),
    ("ap-northeast-1", "354813040037"),
    ("ap-northeast-2", "366743142698"),
    ("ap-northeast-3", "867004704886"),
    ("ap-south-1", "720646828776"),
    ("ap-south-2", "628508329040"),
    ("ap-southeast-1", "121021644041"),
    ("ap-southeast-2", "783357654285"),
    ("ap-southeast-3", "951798379941"),
    ("ap-southeast-4", "106583098589"),
    ("ca-central-1", "341280168497"),
    ("ca-west-1", "190319476487"),
    ("cn-north-1", "450853457545"),
    ("cn-northwest-1", "451049120500"),
    ("eu-central-1", "492215442770"),
    ("eu-central-2", "680994064768"),
    ("eu-north-1", "662702820516"),
    ("eu-south-1", "978288397137"),
    ("eu-south-2", "104374241257"),
    ("eu-west-1", "141502667606"),
    ("eu-west-2", "764974769150"),
    ("eu-west-3", "659782779980"),
    ("il-central-1", "898809789911"),
    ("me-central-1", "272398656194"),
    ("me-south-1", "801668240914"),
    ("sa-east-1", "737474898029"),
    ("us-east-1", "683313688378"),
    ("us-east-2", "257758044811"),
    ("us-gov-east-1", "237065988967"),
    ("us-gov-west-1", "414596584902"),
    ("us-iso-east-1", "833128469047"),
    ("us-isob-east-1", "281123927165"),
    ("us-isof-east-1", "108575199400"),
    ("us-isof-south-1", "124985052026"),
    ("us-west-1", "746614075791"),
    ("us-west-2", "246618743249"),
];

/// The DNS suffix of a region's endpoints (its partition's): `amazonaws.com` but in the China,
/// ISO and European Sovereign Cloud partitions.
pub fn dns_suffix(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "amazonaws.com.cn"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("eusc-", "amazonaws.eu"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, suffix)| suffix)
}

/// The built-in XGBoost image URI for `region`, or `None` for a region without one.
pub fn xgboost_image(region: &str) -> Option<String> {
    let (_, account) = XGBOOST_ACCOUNTS.iter().find(|(r, _)| *r == region)?;
    let domain = dns_suffix(region);
    Some(format!(
        "{account}.dkr.ecr.{region}.{domain}/sagemaker-xgboost:{XGBOOST_VERSION}"
    ))
}

/// ECR repository of the built-in preprocessing program (`mdlc-trainer preprocess` by
/// SageMaker's processing contract); the local emulator maps any `*/mdlc-preprocess:*` image to
/// that program.
pub const PREPROCESS_REPOSITORY: &str = "mdlc-preprocess";

/// The default preprocessing image: the `mdlc-preprocess` repository of `account` in `region`,
/// tagged with this release's version.
pub fn preprocess_image(region: &str, account: &str) -> String {
    let domain = dns_suffix(region);
    format!(
        "{account}.dkr.ecr.{region}.{domain}/{PREPROCESS_REPOSITORY}:{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The account of an ARN (`arn:<partition>:<service>:<region>:<account>:...`) when it is 12 digits.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Whether `image` is a SageMaker built-in XGBoost image (any account, region or version).
/// Built-in algorithms publish their own metrics, so requests carry no `MetricDefinitions`.
pub fn is_builtin_xgboost(image: &str) -> bool {
    image.contains(".dkr.ecr.") && image.contains("/sagemaker-xgboost:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_known_region_then_image_uri_uses_its_registry() {
        assert_eq!(
            xgboost_image("us-east-1").as_deref(),
            Some("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")
        );
        assert!(
            xgboost_image("cn-north-1")
                .unwrap()
                .contains("amazonaws.com.cn")
        );
        assert_eq!(xgboost_image("xx-nowhere-1"), None);
    }

    #[test]
    fn given_the_regions_missing_before_then_each_has_its_registry() {
        for (region, uri) in [
            (
                "ca-west-1",
                "190319476487.dkr.ecr.ca-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            ),
            (
                "us-gov-west-1",
                "414596584902.dkr.ecr.us-gov-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            ),
            (
                "us-gov-east-1",
                "237065988967.dkr.ecr.us-gov-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            ),
            (
                "us-iso-east-1",
                "833128469047.dkr.ecr.us-iso-east-1.c2s.ic.gov/sagemaker-xgboost:1.7-1",
            ),
            (
                "us-isob-east-1",
                "281123927165.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/sagemaker-xgboost:1.7-1",
            ),
            (
                "us-isof-south-1",
                "124985052026.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/sagemaker-xgboost:1.7-1",
            ),
        ] {
            assert_eq!(xgboost_image(region).as_deref(), Some(uri), "{region}");
        }
    }

    #[test]
    fn the_region_table_has_one_twelve_digit_account_per_region() {
        let mut regions: Vec<&str> = XGBOOST_ACCOUNTS.iter().map(|(r, _)| *r).collect();
        regions.sort_unstable();
        regions.dedup();
        assert_eq!(
            regions.len(),
            XGBOOST_ACCOUNTS.len(),
            "a region is listed twice"
        );
        for (region, account) in XGBOOST_ACCOUNTS {
            assert!(
                account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()),
                "{region}: {account}"
            );
        }
    }

    #[test]
    fn given_a_role_arn_then_the_default_preprocessing_image_is_in_its_account() {
        let account = account_of_arn("arn:aws:iam::123456789012:role/sm").unwrap();
        assert_eq!(
            preprocess_image("eu-west-1", account),
            format!(
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mdlc-preprocess:{}",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(preprocess_image("cn-north-1", account).contains(".amazonaws.com.cn/"));
        assert_eq!(account_of_arn("arn:aws:iam::1:role/r"), None);
        assert_eq!(account_of_arn("not-an-arn"), None);
    }

    #[test]
    fn recognises_builtin_images() {
        assert!(is_builtin_xgboost(&xgboost_image("eu-west-1").unwrap()));
        assert!(!is_builtin_xgboost(
            "123.dkr.ecr.us-east-1.amazonaws.com/my-algo:1"
        ));
    }
}
